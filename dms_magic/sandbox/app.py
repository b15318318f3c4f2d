"""The sandbox's WSGI application: ChatWithDesensitize(SSE) over ``POST /``, like the real gateway.

A request goes through the same stages as on Alibaba Cloud, each with its real error reply:
faults (latency, drops, 503s, throttling) -> body size -> action/version -> signature -> parameters
(the shared ``ChatRequest.from_wire``) -> instance and masking rule -> masking -> the built-in
generator -> JSON answer or SSE stream. Bad input of any kind gets a 4xx JSON error, never a 500
or a traceback. ``GET /_sandbox/received`` shows what arrived (``DELETE`` clears it).
"""
from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any, Iterable
from urllib.parse import parse_qsl

from werkzeug.wrappers import Request, Response

from ..wire import params as P
from ..defaults import ACTION, API_VERSION, SANDBOX_MODEL, SSE_ACTION
from ..errors import InvalidParameterError
from ..wire.request import MAX_BODY_BYTES as MAX_REQUEST_BYTES, ChatRequest
from ..wire._messages import content_text
from ..wire.values import shorten
from . import multimodal, replies
from ..errors import SandboxAuthFailure
from .auth import Verifier
from .faults import Faults, drop_connection
from .generator import generate
from .inspection import RECEIVED_PATH
from .intake import MAX_JSON_DEPTH, canonical_pairs, repeated_keys, too_deep
from .journal import Journal
from .replies import ReplyShape, gateway_error, json_response, new_request_id
from .sse import error_event, events, paced, token_interval

log = logging.getLogger("dms_magic.sandbox")

MAX_BODY_BYTES = MAX_REQUEST_BYTES  # the client's own limit (images need room); larger bodies get 413
DEFAULT_MODEL = SANDBOX_MODEL


class SandboxApp:
    def __init__(self, verifier: Verifier, *, faults: Faults, instances: Iterable[int] = (1,),
                 masking_config: Any = None, seed: int | None = None, max_body_bytes: int = MAX_BODY_BYTES,
                 journal: Journal | None = None, upstream: Any = None, shape: ReplyShape | None = None,
                 stream_token_interval_ms: float = 0):
        self.verifier = verifier
        self.faults = faults
        self.instances = frozenset(int(i) for i in instances)
        self.masking_config = masking_config
        self.max_body_bytes = max_body_bytes
        self.journal = journal or Journal()
        self.upstream = upstream  # an upstream.Upstream: answer with a real model instead of the generator
        self.shape = shape or ReplyShape()  # which documented reply shape to send (replies.ReplyShape)
        self.stream_token_interval = token_interval(stream_token_interval_ms)  # seconds between streamed events
        self.closed = False
        self._seeds = random.Random(seed)  # seeds for requests that bring none: a seeded sandbox replays
        self._seed_lock = threading.Lock()

    # -- WSGI ---------------------------------------------------------------------------------
    def __call__(self, environ: dict, start_response):
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except Exception:  # the last line of defence: a JSON 500, never a traceback on the wire
            log.exception("sandbox failed on %s %s", request.method, request.path)
            response = gateway_error("InternalError")
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        if self.closed:  # stopped: a kept-alive connection must not be answered any more
            drop_connection(request.environ)
            return Response(b"", status=503)
        if request.path == RECEIVED_PATH:  # signed like the API: it shows prompts before masking
            from .inspection import serve

            return serve(request, self.verifier, self.journal)
        if request.path != "/" or request.method != "POST":
            return gateway_error("NotFound", f"{request.method} {request.path} is not served: the sandbox serves "
                                 f"POST / (ChatWithDesensitize, ChatWithDesensitizeSSE) and GET {RECEIVED_PATH}.")
        response = self.api(request)
        # Injected latency comes after the work, as a model's generation time would: requests that
        # arrived together then do their CPU work while others wait, not all at once afterwards.
        # A streamed answer spends it between its events instead, so streaming is visible.
        if not getattr(response, "paced", False):
            self.faults.delay()
        return response

    # -- the API ------------------------------------------------------------------------------
    def api(self, request: Request) -> Response:
        """The gateway's stages in order; the first that objects answers."""
        fault = self.faults.decide()
        if fault == "drop":
            drop_connection(request.environ)
            return Response(b"", status=500)  # the socket is already closed: nothing reaches the client
        if fault == "throttle":
            return self.faults.throttled(gateway_error("Throttling.User"))
        if fault == "error":
            return gateway_error("ServiceUnavailable")

        length = request.content_length  # a declared size over the limit: refused from the headers
        if length is not None and length > self.max_body_bytes:
            return self._too_large(length)
        action = request.headers.get("x-acs-action", "")
        refusal = _route_error(request, action)
        if refusal is not None:
            return refusal
        pairs = list(request.args.items(multi=True))
        query = dict(pairs)
        try:  # over every pair, as the gateway signs: a key appended after signing breaks the signature;
            # from the headers first: the body is read only for a request signed by a known key
            pair, body = self.verifier.verify_then_read(request.method, request.path, canonical_pairs(pairs),
                                                        dict(request.headers), lambda: self._read_body(request))
        except SandboxAuthFailure as failure:
            return gateway_error(failure.code, failure.message)
        if isinstance(body, Response):
            return body
        repeated = repeated_keys(pairs)
        if repeated:
            return gateway_error("InvalidParameter", f"The query repeats {', '.join(repeated)}: send each "
                                 "parameter once.")
        form = _parse_form(request, body)
        if isinstance(form, Response):
            return form
        deep = too_deep(query) or too_deep(form)
        if deep is not None:
            return gateway_error("InvalidParameter", f"The specified parameter {deep[0]} is not valid: JSON "
                                 f"nested {deep[1]} levels deep; the limit is {MAX_JSON_DEPTH}.")
        stream = action == SSE_ACTION
        try:
            chat = ChatRequest.from_wire(query, form, stream=stream)
        except InvalidParameterError as exc:
            return _parameter_error(exc)
        entry = {"request_id": new_request_id(), "action": action, "time": time.time(),
                 "access_key_id": pair.access_key_id, "query": query, "form": form, "request": chat}
        return self.answer(entry, stream)

    def answer(self, entry: dict, stream: bool) -> Response:
        """After the gateway: DMS's checks (instance, rule), masking, then the generator (or upstream)."""
        request_id, values = entry["request_id"], entry["request"].values
        if values["instance_id"] not in self.instances:
            known = ", ".join(str(i) for i in sorted(self.instances))
            return self._business_error(stream, "InstanceNotExist", f"The specified instance does not exist: "
                                        f"InstanceId={values['instance_id']}. Use an instance id from "
                                        f"ListInstances (this sandbox has: {known}).", request_id)
        seed = values.get("seed")
        if seed is None:
            with self._seed_lock:
                seed = self._seeds.randrange(2**31)
        rule = values.get("desensitization_rule") if values.get("need_desensitization") else None
        from ..masking import UnknownRuleError

        try:
            model_input = self._mask(values["messages"], rule, seed)
        except UnknownRuleError as exc:
            return self._business_error(stream, "DesensitizationRuleNotExist", f"The desensitization rule "
                                        f"{exc.rule!r} does not exist on this instance. Use one of: "
                                        f"{', '.join(exc.known)}.", request_id)

        model = values.get("model") or DEFAULT_MODEL
        headers = {"x-acs-request-id": request_id}
        if self.shape.model_failure is not None:  # the model side fails: reported inside Data, HTTP 200
            self.journal.add({**entry, "model_input": model_input, "masked": rule is not None, "rule": rule,
                              "seed": seed, "finish_reason": None})
            return self._reply(stream, self.shape.failure_body(request_id=request_id, model=model), headers)
        generator_input = _as_text_messages(model_input)
        # Tool calls only on the streaming action: the SDK's plain request has no Tools (params refuses it).
        tool_call = (multimodal.tool_call_for(values.get("tools"), model_input, tool_choice=values.get("tool_choice"))
                     if stream and values.get("tools") else None)
        if tool_call is not None:
            generation = _tool_call_generation(generator_input, tool_call)
        elif self.upstream is not None:
            from ..errors import UpstreamError

            headers["X-Dms-Magic-Upstream"] = self.upstream.base_url
            try:
                generation, model = self.upstream.complete(model_input, values)
            except UpstreamError as exc:
                if exc.code == "InvalidParameter":  # the model refused the call: DMS reports that inside Data
                    body = replies.model_error(exc.status, exc.code, exc.message, request_id=request_id, model=model)
                    return self._reply(stream, body, headers)
                return gateway_error(exc.code, exc.message, request_id=request_id)
        else:
            generation = generate(generator_input, values, seed=seed, masked_rule=rule,
                                  preface=multimodal.preface(model_input))
        if self.upstream is None:  # images cost prompt tokens as Qwen-VL counts them (an upstream reports its own)
            generation.prompt_tokens += multimodal.prompt_image_tokens(
                model_input, high_resolution=bool(values.get("vl_high_resolution_images")))
        self.journal.add({**entry, "model_input": model_input, "masked": rule is not None, "rule": rule,
                          "seed": seed, "finish_reason": generation.finish_reason})

        created = int(time.time())
        if stream:
            chunks = list(events(generation, values, request_id=request_id, model=model, created=created,
                                 shape=self.shape, tool_call=tool_call))
            response = Response(paced(self.faults.paced(chunks), self.stream_token_interval),
                                content_type="text/event-stream;charset=utf-8")
            setattr(response, "paced", True)  # a mark for the server: do not buffer this one
            response.headers.update({replies.BACKEND_HEADER[0]: replies.BACKEND_HEADER[1], **headers,
                                     "Cache-Control": "no-cache"})
            return response
        body = replies.success_body(generation, values, request_id=request_id, model=model, created=created,
                                    shape=self.shape)
        return json_response(body, headers=headers)

    # -- stages -------------------------------------------------------------------------------
    def _too_large(self, length: int) -> Response:
        return gateway_error("RequestBodyTooLarge", f"The request body is {length} bytes; the limit is "
                             f"{self.max_body_bytes}. Send fewer or shorter messages.")

    def _read_body(self, request: Request) -> bytes | Response:
        data = request.stream.read(self.max_body_bytes + 1)
        if len(data) > self.max_body_bytes:
            return gateway_error("RequestBodyTooLarge", f"The request body exceeds {self.max_body_bytes} bytes. "
                                 "Send fewer or shorter messages.")
        return data

    def _mask(self, messages: list[dict], rule: str | None, seed: int) -> list[dict]:
        """Every message masked before the generator sees it (copies; the request stays as sent).

        One masking session per request: a value gets the same pseudonym in every message of the
        conversation, and the request's seed makes random operators reproducible. Text is masked
        wherever a message holds it: its content string or the text of its content parts (an
        image part, a tool call's id, a ``null`` content are passed on as they are)."""
        if rule is None:
            return [dict(m) for m in messages]
        from ..masking import mask_text_parts
        from ..masking import MaskingSession

        return list(mask_text_parts(messages, rule, config=self.masking_config, session=MaskingSession(seed=seed)))

    def _business_error(self, stream: bool, code: str, message: str, request_id: str) -> Response:
        return self._reply(stream, replies.business_error(code, message, request_id=request_id))

    def _reply(self, stream: bool, body: dict, headers: dict[str, str] | None = None) -> Response:
        """A one-shot HTTP 200 body: JSON, or one SSE event on the streaming action."""
        if stream:
            response = Response([error_event(body, self.shape)], content_type="text/event-stream;charset=utf-8")
            response.headers[replies.BACKEND_HEADER[0]] = replies.BACKEND_HEADER[1]
            response.headers.update(headers or {})
            return response
        return json_response(body, headers=headers)


def _as_text_messages(messages: list[dict]) -> list[dict]:
    """The conversation as the built-in generator reads it: every content its ``content_text``
    (the dry run counts the same text). Image parts add no text: their prompt tokens are counted
    apart (multimodal.prompt_image_tokens)."""
    return [{**message, "content": content_text(message.get("content"))} for message in messages]


def _tool_call_generation(messages: list[dict], call: dict):
    """A Generation for a tool call: no text; usage counts the arguments' tokens as the output."""
    from .generator import Generation, Step
    from ..wire.tokens import count_message_tokens, tokenise

    steps = [Step(token, 0.0, []) for token in tokenise(call["function"]["arguments"])]
    return Generation(steps, [], "tool_calls", count_message_tokens(messages))


def _route_error(request: Request, action: str) -> Response | None:
    """The action and version this sandbox serves, or the gateway's reply for what it does not."""
    if not action and "Action" in request.args:
        return gateway_error("IncompleteSignature", "This request looks signed the old RPC way (Action and "
                             "Signature in the query). The sandbox, like the official SDKs today, uses "
                             "ACS3-HMAC-SHA256: send x-acs-action, x-acs-version, x-acs-date, "
                             "x-acs-signature-nonce and an Authorization header.")
    if action not in (ACTION, SSE_ACTION):
        return gateway_error("InvalidAction.NotFound", f"Specified api is not found, please check your url "
                             f"and method: x-acs-action {action!r} (the sandbox serves {ACTION} and "
                             f"{SSE_ACTION}).")
    version = request.headers.get("x-acs-version", "")
    if version != API_VERSION:
        return gateway_error("InvalidVersion", f"Specified parameter Version is not valid: {version!r} "
                             f"(expected {API_VERSION}).")
    return None


def _parse_form(request: Request, body: bytes) -> dict[str, str] | Response:
    if not body:
        return {}
    mimetype = request.mimetype
    if mimetype not in ("application/x-www-form-urlencoded", ""):
        return gateway_error("InvalidParameter", f"The request body is {mimetype}; send the parameters as "
                             "application/x-www-form-urlencoded (Messages in the body, the rest in the query).")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return gateway_error("InvalidParameter", "The request body is not UTF-8 text.")
    try:
        return dict(parse_qsl(text, keep_blank_values=True, strict_parsing=False, errors="strict"))
    except (ValueError, UnicodeDecodeError):
        return gateway_error("InvalidParameter", "The request body is not a valid form (key=value&...).")


def _parameter_error(exc: InvalidParameterError) -> Response:
    """MissingParameter / InvalidParameter with the API's names, what was wrong and what is valid."""
    base = exc.param.split("[", 1)[0].split(".", 1)[0]
    param = P.BY_NAME.get(base)
    wire = param.wire if param else base
    if exc.value is None and exc.param == base:
        return gateway_error("MissingParameter", f"{wire} is mandatory for this action: expected {exc.expected}.")
    where = exc.param.replace(base, wire, 1)
    shown = shorten(repr(exc.value))
    return gateway_error("InvalidParameter", f"The specified parameter {where} is not valid: {shown}; expected "
                         f"{exc.expected}.")
