"""Running the sandbox: a threaded werkzeug server on a background thread.

``start()`` is what the notebook layer uses as its default backend and what the tests' fixture
runs: it binds (port 0 = any free port), serves from a daemon thread, and returns a ``Sandbox``
with the URL and the key pair to sign with. Each request gets its own thread, so concurrent
clients (a batch at concurrency 16) are served in parallel.
"""
from __future__ import annotations

import logging
import secrets
import threading
from typing import Any, Iterable

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import MAX_BODY_BYTES, SandboxApp
from .auth import KeyPair, Verifier
from .faults import FaultConfig, Faults
from .journal import Journal

DEFAULT_ACCESS_KEY_ID = "LTAIsandbox0000000000000"


class _QuietHandler(WSGIRequestHandler):
    """No per-request access log on stderr (it would flood notebooks and benchmarks)."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log_error(self, *args: Any) -> None:
        logging.getLogger("dms_magic.sandbox").debug("server: " + str(args[0]), *args[1:])

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors the HTTP layer raises before the app runs (request line or headers too long,
        malformed request) come back as the gateway's JSON too, not as an HTML page."""
        import json

        from .replies import BACKEND_HEADER, gateway_body

        reason = message or self.responses.get(code, ("Error",))[0]
        _, reply = gateway_body("InvalidRequest" if code < 500 else "InternalError",
                                f"HTTP {code}: {reason}. Send a well-formed HTTP/1.1 POST / with the parameters "
                                "in the query string and Messages in the form body.")
        body = json.dumps(reply, ensure_ascii=False).encode("utf-8")
        self.send_response(code, None)  # the HTTP layer's status (414, 431 ...), not the table's
        self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header(*BACKEND_HEADER)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class Sandbox:
    """A running sandbox. ``.url``, ``.access_key_id``, ``.access_key_secret``, ``.received``."""

    def __init__(self, server: BaseWSGIServer, app: SandboxApp, access_key_id: str, access_key_secret: str,
                 security_token: str | None = None):
        self._server, self._app = server, app
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.security_token = security_token
        host, port = server.server_address[:2]
        self.host, self.port = host, port
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}"
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"dms_magic-sandbox-{port}", daemon=True)
        self._stopped = False

    def _start(self) -> "Sandbox":
        self._thread.start()
        return self

    @property
    def received(self) -> list[dict]:
        """Recent accepted requests: request_id, action, query, form, request (ChatRequest),
        model_input (the messages the generator saw, after masking), masked, rule, seed, ..."""
        return self._app.journal.entries()

    @property
    def accepted(self) -> int:
        """How many requests were accepted since start; never reset (``received`` keeps the last 1000)."""
        return self._app.journal.accepted

    def clear_received(self) -> None:
        self._app.journal.clear()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._app.closed = True  # connections kept alive by clients stop being served too
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:  # never the secret
        state = "stopped" if self._stopped else "running"
        return f"<Sandbox {self.url} key {self.access_key_id} ({state})>"


def start(host: str = "127.0.0.1", port: int = 0, *, access_key_id: str | None = None,
          access_key_secret: str | None = None, security_token: str | None = None, latency_ms: float = 0,
          error_rate: float = 0, throttle_qps: float | None = None, drop_rate: float = 0, seed: int | None = None,
          instances: Iterable[int] = (1,), masking_config: Any = None, extra_keys: Iterable[KeyPair] = (),
          max_body_bytes: int = MAX_BODY_BYTES, upstream: str | None = None, upstream_model: str | None = None,
          upstream_api_key: str | None = None, stream_token_interval_ms: float = 0) -> Sandbox:
    """Start a sandbox on a background thread and return it (also a context manager).

    Without ``access_key_secret`` a random one is made for this run. ``security_token`` makes the
    key pair an STS one (requests must send the token); ``extra_keys`` adds more key pairs.
    ``seed`` makes requests without a Seed, and the fault knobs, reproducible.
    ``upstream`` (an OpenAI-compatible base URL such as ``http://127.0.0.1:11434/v1``) answers with
    a real model instead of the built-in generator, after masking; ``upstream_model`` overrides
    the request's Model there; the key defaults to ``$DMS_MAGIC_UPSTREAM_API_KEY``.
    ``stream_token_interval_ms`` paces streamed answers like a model (e.g. 33 for ~30 tokens/s);
    plain answers are never delayed by it.
    """
    key_id = access_key_id or DEFAULT_ACCESS_KEY_ID
    secret = access_key_secret or secrets.token_urlsafe(24)
    keys = {key_id: KeyPair(key_id, secret, security_token)}
    for pair in extra_keys:
        keys[pair.access_key_id] = pair
    faults = Faults(FaultConfig(latency_ms=latency_ms, error_rate=error_rate, throttle_qps=throttle_qps,
                                drop_rate=drop_rate), seed=seed)
    from .. import masking

    # Read the masking rules and build their operators now (hmac/aes keys included): a broken config
    # fails here, clearly, not as an error on every later masked request.
    masking_config = masking.resolve_config(masking_config).prepare()
    answerer = None
    if upstream:
        import os

        from .upstream import Upstream

        answerer = Upstream(upstream, model=upstream_model,
                            api_key=upstream_api_key or os.environ.get("DMS_MAGIC_UPSTREAM_API_KEY"))
    app = SandboxApp(Verifier(keys), faults=faults, instances=instances, masking_config=masking_config, seed=seed,
                     max_body_bytes=max_body_bytes, journal=Journal(), upstream=answerer,
                     stream_token_interval_ms=stream_token_interval_ms)
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
    server.daemon_threads = True
    return Sandbox(server, app, key_id, secret, security_token)._start()
