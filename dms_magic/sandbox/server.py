"""Running the sandbox: a waitress server on a background thread.

``start()`` is what the notebook layer uses as its default backend and what the tests' fixture
runs: it binds (port 0 = any free port), serves from a daemon thread, and returns a ``Sandbox``
with the URL and the key pair to sign with.

Why waitress (not werkzeug's development server, which starts a thread per connection): one
event-loop thread holds every connection, and a fixed pool of ``threads`` workers runs the app, so
thousands of idle or slow connections cost file descriptors, never threads; a connection idle for
``idle_timeout`` seconds is closed; ``stop()`` closes every connection from the loop thread and
returns promptly. The HTTP layer's own refusals (malformed request, chunk size ``zz``, a request
with both Content-Length and Transfer-Encoding, oversized headers or body, a transfer coding other
than chunked) come back as the gateway's JSON with Code ``InvalidRequest`` (``RequestBodyTooLarge``
for a body over the limit), like everything else the sandbox says.
"""
from __future__ import annotations

import json
import logging
import secrets
import threading
from typing import Any, Iterable

from waitress.parser import HTTPRequestParser, ParsingError
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, WSGITask

from ..defaults import ENV_UPSTREAM_API_KEY
from .app import MAX_BODY_BYTES, SandboxApp
from .auth import KeyPair, Verifier
from .faults import FaultConfig, Faults
from .journal import Journal
from .replies import ReplyShape
from .upstream import Upstream
from .memory import release_after

DEFAULT_ACCESS_KEY_ID = "LTAIsandbox0000000000000"
DEFAULT_THREADS = 16  # requests served at once (a batch at concurrency 16); more wait in a queue
DEFAULT_IDLE_TIMEOUT = 30  # seconds a connection may sit idle before the sandbox closes it


def default_connection_limit() -> int:
    """Open connections at most (beyond it new ones wait in the listen backlog): half the process's
    file-descriptor limit, between 100 and 10,000, so accepting never fails for want of descriptors
    (a failing accept would make the loop spin) and the host process keeps descriptors of its own."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return 100
    if soft == resource.RLIM_INFINITY:
        return 10_000
    return max(100, min(10_000, soft // 2))


MAX_HEADER_BYTES = 64 * 1024  # request line + headers (beyond: 431, as http.server's limits did)
STOP_TIMEOUT = 1.0  # seconds stop() waits for workers still inside the app (daemon threads)

# The pool logs a warning whenever requests queue for a worker: expected under load, not news.
logging.getLogger("waitress.queue").setLevel(logging.ERROR)


class _Parser(HTTPRequestParser):
    """waitress's parser, refusing a request that has both Content-Length and Transfer-Encoding: which
    of the two frames the body is what request smuggling exploits, so it is a 400, not a guess."""

    def parse_header(self, header_plus: bytes) -> None:
        names = {line.split(b":", 1)[0].strip().lower() for line in header_plus.splitlines()[1:]}
        if b"content-length" in names and b"transfer-encoding" in names:
            super().parse_header(header_plus)  # still read the request line (the error reply needs its version)
            raise ParsingError("the request has both Content-Length and Transfer-Encoding; send one of them")
        super().parse_header(header_plus)


class _GatewayErrorTask(ErrorTask):
    """What the HTTP layer refuses before the app runs, as the gateway's JSON error."""

    def execute(self) -> None:
        from .replies import BACKEND_HEADER, gateway_body

        error = self.request.error
        if error.code == 413:
            limit = self.channel.server.adj.max_request_body_size - 1
            code, message = "RequestBodyTooLarge", (f"The request body exceeds {limit} bytes. "
                                                    "Send fewer or shorter messages.")
        elif error.code == 500:  # waitress's own failure, not something the client sent
            code, message = "InternalError", None
        else:  # the client's request: 400, 431, and 501 for a transfer coding other than chunked
            # (kept 501 Not Implemented, as RFC 9112 section 6.1 says for an unknown coding; the
            # Code says it is the request that was refused, not the service that broke)
            code, message = "InvalidRequest", (f"HTTP {error.code}: {error.reason} ({error.body}). Send a "
                                               "well-formed HTTP/1.1 POST / with the parameters in the query "
                                               "string and Messages in the form body.")
        _, reply = gateway_body(code, message)
        body = json.dumps(reply, ensure_ascii=False).encode("utf-8")
        self.status = f"{error.code} {error.reason}"  # the HTTP layer's status (400, 413, 431 ...)
        self.response_headers.extend([("Content-Type", "application/json;charset=utf-8"), BACKEND_HEADER])
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _Task(WSGITask):
    def get_environment(self) -> dict:
        environ = super().get_environment()
        # The drop fault (faults.drop_connection) shuts the client's socket down; it reads the socket
        # under the key werkzeug's server used.
        environ["werkzeug.socket"] = self.channel.socket
        return environ


class _Server(TcpWSGIServer):
    class channel_class(TcpWSGIServer.channel_class):
        task_class = _Task
        error_task_class = _GatewayErrorTask
        parser_class = _Parser

        def service(self) -> None:
            """Serve one request, then give a large one's freed memory back (memory.py: without it
            each worker's malloc arena keeps its high-water mark, +170 MB for 300 x 0.9 MB at 8
            at a time). Here, not in the task: the request and its body buffer are closed by now."""
            body_bytes = getattr(self.requests[0], "content_length", 0) if self.requests else 0
            try:
                super().service()
            finally:
                release_after(body_bytes)

    def __init__(self, *args: Any, **kwargs: Any):
        self._trigger_lock = threading.Lock()
        self._trigger_closed = False
        super().__init__(*args, **kwargs)

    def pull_trigger(self) -> None:
        """Wake the loop (workers do after each request); a no-op once stop() closed the trigger. A
        worker still finishing its request then would otherwise write to a closed descriptor, or to
        whatever pipe or socket reused its number since (seen: EBADF in workers after stop())."""
        with self._trigger_lock:
            if not self._trigger_closed:
                self.trigger.pull_trigger()

    def close_everything(self) -> None:
        """Close every connection, the listening socket and the trigger; runs in the loop thread
        (via the trigger), so the loop sees an empty map and returns."""
        with self._trigger_lock:
            self._trigger_closed = True
            for dispatcher in list(self._map.values()):
                try:
                    dispatcher.close() if dispatcher is self else dispatcher.handle_close()
                except OSError:
                    pass


class Sandbox:
    """A running sandbox. ``.url``, ``.access_key_id``, ``.access_key_secret``, ``.received``."""

    def __init__(self, server: _Server, app: SandboxApp, access_key_id: str, access_key_secret: str,
                 security_token: str | None = None):
        self._server, self._app = server, app
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.security_token = security_token
        host, port = server.effective_host, int(server.effective_port)
        self.host, self.port = host, port
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}"
        self.threads = server.adj.threads
        self._thread = threading.Thread(target=server.run, name=f"dms_magic-sandbox-{port}", daemon=True)
        self._stopped = False

    def _start(self) -> "Sandbox":
        self._thread.start()
        return self

    @property
    def received(self) -> list[dict]:
        """Recent accepted requests: request_id, action, query, form, request (ChatRequest),
        model_input (the messages the generator saw, after masking), masked, rule, seed, ...
        Bounded by count and by bytes (journal.py): the oldest go first."""
        return self._app.journal.entries()

    @property
    def accepted(self) -> int:
        """How many requests were accepted since start; never reset (``received`` keeps the recent ones)."""
        return self._app.journal.accepted

    def clear_received(self) -> None:
        self._app.journal.clear()

    @property
    def faults(self) -> FaultConfig:
        """What goes wrong now (``start(faults=...)``, or the last ``set_faults``)."""
        return self._app.faults.config

    def set_faults(self, faults: FaultConfig | None = None, *, seed: int | None = None) -> None:
        """Change what goes wrong from the next request on (None: nothing); ``seed`` makes the new
        random draws reproducible. Requests already being answered keep their old plan."""
        if faults is not None and not isinstance(faults, FaultConfig):
            raise TypeError(f"faults={faults!r} is invalid: expected a FaultConfig(...)")
        self._app.faults = Faults(faults if faults is not None else FaultConfig(), seed=seed)

    def stop(self) -> None:
        """Close every connection (kept-alive and idle ones too) and stop serving, within about a second."""
        if self._stopped:
            return
        self._stopped = True
        self._app.closed = True  # a request already queued for a worker is dropped, not answered
        try:
            self._server.trigger.pull_trigger(self._server.close_everything)
        except OSError:  # the trigger is closed, so the loop cannot be woken: close from here
            self._server.close_everything()
        self._thread.join(timeout=STOP_TIMEOUT)
        # Workers still inside the app find their connection closed at their next write and end.
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=STOP_TIMEOUT)

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:  # never the secret
        state = "stopped" if self._stopped else "running"
        return f"<Sandbox {self.url} key {self.access_key_id} ({state})>"


def start(host: str = "127.0.0.1", port: int = 0, *, access_key_id: str | None = None,
          access_key_secret: str | None = None, security_token: str | None = None,
          extra_keys: Iterable[KeyPair] = (), seed: int | None = None, instances: Iterable[int] = (1,),
          masking_config: Any = None, faults: FaultConfig | None = None, shape: ReplyShape | None = None,
          upstream: str | Upstream | None = None, stream_token_interval_ms: float = 0,
          max_body_bytes: int = MAX_BODY_BYTES, threads: int = DEFAULT_THREADS,
          idle_timeout: int = DEFAULT_IDLE_TIMEOUT, connection_limit: int | None = None,
          journal_bytes: int | None = None) -> Sandbox:
    """Start a sandbox on a background thread and return it (also a context manager).

    ``faults``: what goes wrong (``FaultConfig(latency_ms=, error_rate=, throttle_qps=, drop_rate=,
    slow_reply_ms=, slow_replies=, throttle_retry_after_ms=)``; ``Sandbox.set_faults`` changes them
    on a running sandbox). ``shape``: which documented reply shape is sent (``ReplyShape(stream_data=,
    stream_text=, model_failure=, placeholder_codes=)``). Both check their values when made (a bad
    one raises ValueError naming it).

    Without ``access_key_secret`` a random one is made for this run. ``security_token`` makes the
    key pair an STS one (requests must send the token); ``extra_keys`` adds more key pairs.
    ``seed`` makes requests without a Seed, and the fault knobs, reproducible.
    ``upstream`` (an OpenAI-compatible base URL such as ``http://127.0.0.1:11434/v1``, or an
    ``Upstream(base_url, model=, api_key=)``) answers with a real model instead of the built-in
    generator, after masking; the key defaults to ``$DMS_MAGIC_UPSTREAM_API_KEY``.
    ``threads``: requests served at once; ``idle_timeout``: seconds before an idle connection is
    closed; ``connection_limit``: open connections at most (default: half the descriptor limit);
    ``journal_bytes``: the journal's byte budget (default journal.MAX_BYTES).
    ``stream_token_interval_ms`` paces streamed answers like a model (e.g. 33 for ~30 tokens/s);
    plain answers are never delayed by it.
    """
    shape = shape if shape is not None else ReplyShape()
    if connection_limit is None:
        connection_limit = default_connection_limit()
    for name, value, low in (("threads", threads, 1), ("idle_timeout", idle_timeout, 1),
                             ("connection_limit", connection_limit, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name}={value!r} is invalid: expected an integer >= {low}")
    key_id = access_key_id or DEFAULT_ACCESS_KEY_ID
    secret = access_key_secret or secrets.token_urlsafe(24)
    keys = {key_id: KeyPair(key_id, secret, security_token)}
    for pair in extra_keys:
        keys[pair.access_key_id] = pair
    for label, given, kind in (("faults", faults, FaultConfig), ("shape", shape, ReplyShape)):
        if given is not None and not isinstance(given, kind):
            raise TypeError(f"{label}={given!r} is invalid: expected a {kind.__name__}(...)")
    fault_plan = Faults(faults if faults is not None else FaultConfig(), seed=seed)
    from .. import masking

    # Read the masking rules and build their operators now (hmac/aes keys included): a broken config
    # fails here, clearly, not as an error on every later masked request.
    masking_config = masking.resolve_config(masking_config).prepare()
    answerer = None
    if upstream:
        import os
        from dataclasses import replace

        answerer = upstream if isinstance(upstream, Upstream) else Upstream(upstream)
        if answerer.api_key is None and os.environ.get(ENV_UPSTREAM_API_KEY):
            answerer = replace(answerer, api_key=os.environ[ENV_UPSTREAM_API_KEY])
    verifier = Verifier(keys)
    journal = Journal() if journal_bytes is None else Journal(max_bytes=journal_bytes)
    app = SandboxApp(verifier, faults=fault_plan, instances=instances, masking_config=masking_config, seed=seed,
                     max_body_bytes=max_body_bytes, journal=journal, upstream=answerer, shape=shape,
                     stream_token_interval_ms=stream_token_interval_ms)
    server = _Server(app, map={}, host=host, port=port, threads=threads, channel_timeout=idle_timeout,
                     cleanup_interval=max(1, idle_timeout // 2), connection_limit=connection_limit,
                     max_request_header_size=MAX_HEADER_BYTES, max_request_body_size=max_body_bytes + 1,
                     asyncore_use_poll=True,  # select() cannot watch descriptors above 1023
                     log_socket_errors=False, ident="dms_magic-sandbox", clear_untrusted_proxy_headers=False)
    return Sandbox(server, app, key_id, secret, security_token)._start()
