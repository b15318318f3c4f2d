"""``python -m dms_magic.sandbox``: serve a sandbox in the foreground until Ctrl-C.

Prints the URL and the AccessKey id to use, never the secret (pass it with --access-key-secret, or
read DMS_MAGIC_SANDBOX_SECRET; without either the documented local default below is used, so a
client in another process can sign without being told anything).
"""
from __future__ import annotations

import argparse
import os
import sys
import threading

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
                   help="AccessKey secret (default: $DMS_MAGIC_SANDBOX_SECRET, else the local default "
                        f"{LOCAL_DEFAULT_SECRET!r})")
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
    return p


def _as_flag(message: str) -> str:
    """``error_rate=2.0 is invalid ...`` as the command line spells it: ``--error-rate 2.0 is invalid ...``."""
    name, sep, rest = message.partition("=")
    if sep and name in vars(parser().parse_args([])):
        return f"--{name.replace('_', '-')} {rest}"
    return message


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from .server import start

    secret = args.access_key_secret or os.environ.get("DMS_MAGIC_SANDBOX_SECRET")
    source = ("--access-key-secret" if args.access_key_secret else
              "$DMS_MAGIC_SANDBOX_SECRET" if secret else "the local default (see --help)")
    secret = secret or LOCAL_DEFAULT_SECRET
    try:
        sandbox = start(args.host, args.port, access_key_id=args.access_key_id, access_key_secret=secret,
                        latency_ms=args.latency_ms, error_rate=args.error_rate, throttle_qps=args.throttle_qps,
                        drop_rate=args.drop_rate, seed=args.seed, instances=args.instance or (1,),
                        masking_config=args.masking_config, upstream=args.upstream,
                        upstream_model=args.upstream_model,
                        stream_token_interval_ms=args.stream_token_interval_ms)
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
