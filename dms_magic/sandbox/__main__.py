"""``python -m dms_magic.sandbox``: serve a sandbox in the foreground until Ctrl-C.

Prints the URL and the AccessKey id to use, never the secret. The secret comes from
--access-key-secret-file, $DMS_MAGIC_SANDBOX_SECRET or --access-key-secret (the last is visible to
every user of the machine in ``ps``, so the first two are preferred); without any of them the
documented local default below is used, so a client in another process can sign without being told
anything.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading

from ..defaults import ENV_SANDBOX_SECRET

# Only for a sandbox on your own machine: a well-known secret guards nothing and is meant not to.
LOCAL_DEFAULT_SECRET = "dms-magic-sandbox-secret"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m dms_magic.sandbox",
                                description="A local ChatWithDesensitize service (signatures, masking, a built-in "
                                            "generator) for notebooks, tests and benchmarks.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    p.add_argument("--access-key-id", default=None, help="AccessKey id clients sign with")
    p.add_argument("--access-key-secret", default=None,
                   help="AccessKey secret. A command-line value shows in `ps` to every user of the machine: prefer "
                        "--access-key-secret-file or the environment variable DMS_MAGIC_SANDBOX_SECRET (default: "
                        f"$DMS_MAGIC_SANDBOX_SECRET, else the local default {LOCAL_DEFAULT_SECRET!r})")
    p.add_argument("--access-key-secret-file", default=None, metavar="PATH",
                   help="read the AccessKey secret from this file (its first line; e.g. a file only you can read)")
    p.add_argument("--threads", type=int, default=None, help="requests served at once (default 16)")
    p.add_argument("--idle-timeout", type=int, default=None,
                   help="seconds before an idle connection is closed (default 30)")
    p.add_argument("--instance", type=int, action="append", default=None,
                   help="a DMS instance id that exists (repeatable; default 1)")
    p.add_argument("--latency-ms", type=float, default=0, help="delay added to every API request")
    p.add_argument("--stream-token-interval-ms", type=float, default=0, metavar="MS",
                   help="pause between streamed tokens, as a model emits them (e.g. 33 for ~30 tokens/s; "
                        "default 0: at once); plain calls are not delayed")
    p.add_argument("--error-rate", type=float, default=0, help="fraction answered 503 ServiceUnavailable")
    p.add_argument("--throttle-qps", type=float, default=None, help="above N requests/s answer Throttling.User")
    p.add_argument("--drop-rate", type=float, default=0, help="fraction of connections closed without answer")
    p.add_argument("--seed", type=int, default=None, help="make unseeded requests and faults reproducible")
    p.add_argument("--masking-config", default=None, help="masking rules file (TOML or JSON)")
    p.add_argument("--upstream", default=None, metavar="URL",
                   help="answer with a real model at this OpenAI-compatible base URL (e.g. "
                        "http://127.0.0.1:11434/v1 for Ollama) after masking; key from $DMS_MAGIC_UPSTREAM_API_KEY")
    p.add_argument("--upstream-model", default=None, help="model name to ask the upstream for (default: the "
                   "request's Model)")
    p.add_argument("--stream-data", default="string", help="streamed Data as a JSON 'string' (default, as the "
                   "official SDKs type it) or an 'object'")
    p.add_argument("--stream-text", default="increments", help="what each streamed event carries: 'increments' "
                   "(default) or 'text_so_far'")
    p.add_argument("--model-failure", type=int, default=None, metavar="STATUS", help="answer every request with "
                   "this model failure inside Data (400-599; HTTP 200, placeholder ErrorCode UnknownError)")
    p.add_argument("--placeholder-codes", action="store_true", help="successes carry ErrorCode/ErrorMessage "
                   "'UnknownError', as the reference page's example")
    return p


def _as_flag(message: str) -> str:
    """``error_rate=2.0 is invalid ...`` as the command line spells it: ``--error-rate 2.0 is invalid ...``."""
    name, sep, rest = message.partition("=")
    if sep and name in vars(parser().parse_args([])):
        return f"--{name.replace('_', '-')} {rest}"
    return message


def _secret(args: argparse.Namespace) -> tuple[str | None, str]:
    """(secret, where it came from): the file, then the command line, then the environment."""
    if args.access_key_secret_file:
        with open(args.access_key_secret_file, encoding="utf-8") as file:
            lines = file.read().splitlines()
        secret = lines[0].strip() if lines else ""
        if not secret:
            raise ValueError(f"--access-key-secret-file {args.access_key_secret_file} is empty: put the secret on "
                             "its first line")
        return secret, "--access-key-secret-file"
    if args.access_key_secret:
        return args.access_key_secret, "--access-key-secret"
    if os.environ.get(ENV_SANDBOX_SECRET):
        return os.environ[ENV_SANDBOX_SECRET], f"${ENV_SANDBOX_SECRET}"
    return None, "the local default (see --help)"


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from .server import start

    try:
        secret, source = _secret(args)
    except OSError as exc:
        print(f"cannot read --access-key-secret-file {args.access_key_secret_file}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"cannot start the sandbox: {exc}", file=sys.stderr)
        return 2
    secret = secret or LOCAL_DEFAULT_SECRET
    tuning = {name: value for name, value in (("threads", args.threads), ("idle_timeout", args.idle_timeout))
              if value is not None}
    try:
        from .faults import FaultConfig
        from .replies import ReplyShape
        from .upstream import Upstream

        faults = FaultConfig(latency_ms=args.latency_ms, error_rate=args.error_rate, throttle_qps=args.throttle_qps,
                             drop_rate=args.drop_rate)
        shape = ReplyShape(stream_data=args.stream_data, stream_text=args.stream_text,
                           model_failure=args.model_failure, placeholder_codes=args.placeholder_codes)
        upstream = Upstream(args.upstream, model=args.upstream_model) if args.upstream else None
        sandbox = start(args.host, args.port, access_key_id=args.access_key_id, access_key_secret=secret,
                        seed=args.seed, instances=args.instance or (1,), masking_config=args.masking_config,
                        faults=faults, shape=shape, upstream=upstream,
                        stream_token_interval_ms=args.stream_token_interval_ms, **tuning)
    except OSError as exc:
        print(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}. Choose another --port.",
              file=sys.stderr)
        return 2
    except ValueError as exc:  # a knob out of range (FaultConfig checks them) or a broken masking config
        print(f"cannot start the sandbox: {_as_flag(str(exc))}", file=sys.stderr)
        return 2
    print(f"dms_magic sandbox serving ChatWithDesensitize at {sandbox.url}", flush=True)
    print(f"AccessKey id: {sandbox.access_key_id}", flush=True)
    print(f"AccessKey secret: from {source} (not shown)", flush=True)
    if args.upstream:
        print(f"Answers from the upstream model at {args.upstream} (masked messages only)", flush=True)
    print("Ctrl-C stops it.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
