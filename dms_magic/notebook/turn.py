"""One chat turn in a notebook, shared by ``%%dmschat`` and the form: resolve the client and the
configured defaults, check the rule locally, send (plain, streamed, or a tool loop), show the card
as it grows on a *surface* (the cell's output, or the form's Output widget), and write the history.

Stopping is routine here: Ctrl-C (KeyboardInterrupt) or a stream that breaks off ends the turn with
a result that holds the partial text and says so (``partial``, ``stop_reason``, ``partial_text``),
the card says "stopped" or "interrupted", and the caller gets an ``Outcome`` it can report in one line.

``Workspace`` is what the magic and the form share in one kernel: the named conversations and the
card options. The magic installs its own at ``%load_ext``; the form reads ``workspace()``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from dms_magic import errors
from dms_magic.views.styles import badge
from dms_magic.views.card import chat_result_html, chat_result_text

FINISHED, STOPPED, INTERRUPTED, FAILED = "finished", "stopped", "interrupted", "failed"
SERVICE_RULES_KEY = "service_rules"  # the masking config's list of rules only the service knows


# -- what the magic and the form share ---------------------------------------------------------
class Workspace:
    """Named conversations (``--session NAME``; the form's conversation mode), one per kernel. The
    card options (``%config DmsChatMagics.show_usage`` ...) are read from the session's one settings
    store, which the magic's traits write into."""

    def __init__(self) -> None:
        self.histories: dict[str, list[dict]] = {}
        self.quiet_warned = False  # `--quiet` without `-o` is explained once

    def display_options(self) -> dict[str, Any]:
        from dms_magic import session

        shown = session.display_settings()
        return {"show_logprobs": shown["show_logprobs"], "show_usage": shown["show_usage"]}

    @property
    def stream_update_interval(self) -> float:
        from dms_magic import session

        return float(session.display_settings()["stream_update_interval"])


_current = Workspace()


def workspace() -> Workspace:
    """The kernel's workspace (the loaded magic's, else a standalone one)."""
    return _current


def use(ws: Workspace) -> Workspace:
    global _current
    _current = ws
    return ws


# -- stopping ----------------------------------------------------------------------------------
TurnEnded = errors.TurnEnded  # the one-line end of a cell that stopped (defined with every exception)


def mark_partial(result: Any, reason: str) -> Any:
    """Say on ``result`` that it is partial and why. Written with setattr so that a ChatResult
    which declares the fields itself (``partial``, ``stop_reason``) gets the same values."""
    for name, value in (("partial", True), ("stop_reason", reason), ("partial_text", result.text or "")):
        try:
            setattr(result, name, value)
        except AttributeError:  # a read-only property derived from the others
            pass
    return result


def _partial_result(chunks: list, request: Any, backend: str | None, reason: str, text: str = "") -> Any:
    from dms_magic.wire.result import ChatResult, assemble

    result = assemble(chunks, request=request, backend=backend) if chunks else \
        ChatResult(text=text, request=request, backend=backend)
    if text and not result.text:
        result.text = text
    return mark_partial(result, reason)


# -- surfaces: where the card goes ---------------------------------------------------------------
class PageSurface:
    """The cell's output: the first ``show`` displays, later ones replace it (one display id)."""

    def __init__(self, enabled: bool = True):
        import uuid

        self.enabled = enabled
        self.display_id = uuid.uuid4().hex
        self.shown = False

    def show(self, data: Mapping[str, str], metadata: Mapping[str, Any] | None = None) -> None:
        if not self.enabled:
            return
        from IPython.display import display, update_display

        if self.shown:
            update_display(dict(data), raw=True, metadata=dict(metadata or {}), display_id=self.display_id)
        else:
            self.shown = True
            display(dict(data), raw=True, metadata=dict(metadata or {}), display_id=self.display_id)


class OutputSurface:
    """An ipywidgets ``Output``: each ``show`` replaces what it holds."""

    def __init__(self, output: Any):
        self.output = output

    def show(self, data: Mapping[str, str], metadata: Mapping[str, Any] | None = None) -> None:
        self.output.outputs = ({"output_type": "display_data", "data": dict(data),
                                "metadata": dict(metadata or {})},)


# -- the turn ----------------------------------------------------------------------------------
@dataclass
class Turn:
    """What to send. ``params``: checked Python values, before the configured defaults; ``images``:
    image parts already in ``messages`` (shown as thumbnails); ``tools``: the request has tools (it
    streams); ``functions``/``run_tools``: what ``--run-tools`` runs and for how many rounds."""

    messages: list[dict]
    params: dict[str, Any]
    client: Any = None
    endpoint: str | None = None
    profile: str | None = None
    stream: bool | None = None  # None: decided by params and the configured default
    images: list = field(default_factory=list)
    image_names: list = field(default_factory=list)  # the thumbnails' captions (file names), in order
    tools: bool = False
    functions: list = field(default_factory=list)
    run_tools: int | None = None
    session: str | None = None  # the conversation to write after a finished turn


@dataclass
class Outcome:
    result: Any
    state: str = FINISHED
    error: BaseException | None = None
    messages: list[dict] = field(default_factory=list)
    loop: Any = None

    @property
    def partial(self) -> bool:
        return self.state != FINISHED

    def line(self, variable: str | None = None) -> str:
        """The one line a stopped or interrupted turn ends with."""
        text = getattr(self.result, "text", "") or ""
        if not text:  # "the partial answer (0 characters)" read as if something had arrived
            where = (f"nothing had arrived; {variable} holds the empty result ({variable}.partial is True)"
                     if variable else "nothing had arrived")
        else:
            where = (f"the partial answer ({len(text)} characters) is in {variable} "
                     f"({variable}.partial_text; {variable}.partial is True)" if variable
                     else f"the partial answer ({len(text)} characters) is shown above; add -o NAME to keep it")
        if self.state == STOPPED:
            return f"stopped (Ctrl-C): {where}"
        reason = getattr(self.error, "message", None) or str(self.error or "")
        return f"interrupted: {reason.split(':', 1)[0] if reason else 'the stream broke off'}; {where}"


def prepare(turn: Turn, *, connect: bool = True) -> tuple[Any, Any, dict[str, Any]]:
    """(client, settings, the parameters sent): the configured defaults under the turn's own,
    the instance of the resolved settings, the rule checked against the rules known here.
    ``connect=False`` (a dry run): no client is made (none may be needed: no credentials)."""
    from dms_magic import session

    settings = None
    client = turn.client
    if client is None:
        settings = session.resolve(turn.endpoint, turn.params.get("instance_id"), turn.profile)
        client = session.client_for(settings) if connect else None
    own = dict(turn.params)
    if own.get("desensitization_rule") is not None and own.get("need_desensitization") is None:
        # a rule named for this turn asks for masking: `--rule UserInfo` alone went out unmasked, silently
        # (`--mask false --rule X` still sends unmasked; a configured default rule turns nothing on)
        own["need_desensitization"] = True
    params = session.request_params(settings, own, stream=turn.stream)
    check_rule(params.get("desensitization_rule"))
    return client, settings, params


def known_rules() -> list[str]:
    """Rule categories the local engine knows, then those the masking config declares as known to
    the service only (``"service_rules": [...]``)."""
    from dms_magic.masking import rule_categories
    from dms_magic.masking.rules import resolve_config

    config = resolve_config(None)
    return [*rule_categories(), *getattr(config, SERVICE_RULES_KEY, ())]


def check_rule(rule: Any) -> None:
    """An unknown rule is refused before anything is sent (a typo would otherwise send the
    unmasked text to the service, which then refuses it)."""
    if rule is None:
        return
    from dms_magic.errors import InvalidParameterError

    known = known_rules()
    if rule in known:
        return
    import difflib

    close = difflib.get_close_matches(str(rule), known, n=1, cutoff=0.6) or \
        [k for k in known if k.lower() == str(rule).lower()]
    if close:  # a typo: the fix, and the list
        raise InvalidParameterError("desensitization_rule", rule,
                                    f"a known rule (did you mean {close[0]}? known: {', '.join(known)})")
    raise InvalidParameterError("desensitization_rule", rule,
                                f"a known rule (known: {', '.join(known)}; a rule only the service knows "
                                f"can be declared under \"{SERVICE_RULES_KEY}\" in the masking config)")


class _Card:
    """The growing card: the partial answer (and the tool rows so far) shown on ``surface`` at most
    every ``every`` seconds, then the final card with its finish state."""

    def __init__(self, surface: Any, turn: Turn, params: Mapping[str, Any], options: Mapping[str, Any],
                 every: float, sections: Callable[..., tuple[str, str]]):
        self.surface, self.turn, self.params, self.options = surface, turn, params, options
        self.every, self.sections = every, sections
        self._last = 0.0
        self._answered = False
        self.where: str | None = None  # what the status line says is being reached (the client's backend)

    def grow(self, partial: Any, *, loop: Any = None, pending: Any = (), force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every:
            return
        self._last = now
        self._answered = True
        html, text = self.sections(loop=loop, pending=pending)
        card = chat_result_html(partial, streaming=True, **self.options)
        self.surface.show({"text/html": html + card, "text/plain": (text + "\n" if text else "") + partial.text})

    def status(self, event: Any) -> None:
        """A progress event (or text) as the status line above the card, until the answer comes."""
        from dms_magic.views.status import progress_text, status_html

        text = progress_text(event, where=self.where) if hasattr(event, "kind") else str(event)
        if self._answered or not text:
            return
        self.surface.show({"text/html": status_html(text), "text/plain": text})

    def finish(self, result: Any, state: str, *, loop: Any = None, pending: Any = ()) -> None:
        from dms_magic.notebook.display import bundle

        self._answered = True
        data, metadata = bundle(result, state=None if state == FINISHED else state, **self.options)
        html, text = self.sections(loop=loop, pending=pending)
        card = data["text/html"]
        if state != FINISHED and state not in card:  # the card itself does not say it yet
            note = {STOPPED: "stopped: partial answer", INTERRUPTED: "interrupted: partial answer"}[state]
            card = (f'<div class="dms-finish dms-finish-{state}">{badge(note, "#fff8c5", "#7d4e00")}</div>' + card)
        plain = data["text/plain"] if state == FINISHED else f"[{state}: partial answer]\n{data['text/plain']}"
        self.surface.show({**data, "text/html": html + card, "text/plain": (text + "\n" if text else "") + plain},
                          metadata)


def run(turn: Turn, surface: Any, *, ws: Workspace | None = None, client: Any = None,
        params: Mapping[str, Any] | None = None) -> Outcome:
    """Send ``turn`` and show it on ``surface``; never raises for Ctrl-C or a broken-off stream
    (the Outcome says so), raises the error for a failure before any answer arrived."""
    from dms_magic.notebook import images_tools

    ws = ws or workspace()
    if client is None or params is None:
        client, _settings, params = prepare(turn)
    params = dict(params)
    messages = list(turn.messages)
    masked, rule = bool(params.get("need_desensitization")), params.get("desensitization_rule")

    def sections(*, loop: Any = None, pending: Any = (), conversation: list | None = None) -> tuple[str, str]:
        options = dict(images=turn.images, image_names=turn.image_names, calls=list(pending), loop=loop, masked=masked, rule=rule,
                       messages=conversation or messages)
        if not (turn.images or loop is not None or list(pending)):
            return "", ""
        return images_tools.extras_html(**options), images_tools.extras_text(**options)

    card = _Card(surface, turn, params, ws.display_options(), ws.stream_update_interval, sections)
    card.where = getattr(client, "backend", None)
    params = {**params, **_progress_option(client, card)}
    streaming = bool(params.get("stream")) or turn.tools
    if turn.tools:
        outcome = _tool_turn(client, messages, params, turn, card)
    elif streaming:
        outcome = _stream_turn(client, messages, params, card)
    else:
        outcome = _plain_turn(client, messages, params, card)
    if outcome.state == FINISHED and turn.session:
        ws.histories[turn.session] = [*outcome.messages, {"role": "assistant", "content": outcome.result.text or ""}]
    return outcome


def _progress_option(client: Any, card: "_Card") -> dict[str, Any]:
    """``progress=`` for a client that reports what it is doing (connecting, "retry 2 of 10 after
    503") — shown as the card's status line until the answer comes; {} for a client without it."""
    import inspect

    try:
        accepts = "progress" in inspect.signature(client.stream).parameters
    except (TypeError, ValueError, AttributeError):
        accepts = False
    return {"progress": card.status} if accepts else {}


def _plain_turn(client: Any, messages: list[dict], params: Mapping[str, Any], card: _Card) -> Outcome:
    try:
        result = client.chat(messages, **params)
    except KeyboardInterrupt:
        result = _partial_result([], None, getattr(client, "backend", None), STOPPED)
        card.finish(result, STOPPED)
        return Outcome(result, STOPPED, messages=messages)
    card.finish(result, FINISHED)
    return Outcome(result, FINISHED, messages=messages)


def _read_stream(client: Any, messages: list[dict], params: Mapping[str, Any],
                 on_chunk: Callable[[Any], None]) -> tuple[Any, str, BaseException | None]:
    """(result, state, error): the whole answer, or the partial one when Ctrl-C or a break-off
    ended it. An error before the first event (nothing received) propagates."""
    from dms_magic.notebook.display import StreamView

    stream = None
    view = None
    error: BaseException | None  # KeyboardInterrupt or a break-off, set by the handler that ends the stream
    try:
        # `with`: an error or Ctrl-C mid-stream must not leave the connection open
        with client.stream(messages, **params) as stream:
            view = StreamView(backend=getattr(stream, "backend", None) or getattr(client, "backend", None),
                              model=params.get("model"), masked=bool(params.get("need_desensitization")),
                              display=False, request=getattr(stream, "request", None))
            for chunk in stream:
                view.add(chunk)
                on_chunk(view.partial)
            return stream.result, FINISHED, None
    except KeyboardInterrupt as exc:
        state, error = STOPPED, exc
    except (errors.TruncatedStreamError, errors.TransportError) as exc:
        if stream is None:
            raise
        state, error = INTERRUPTED, exc
    chunks = list(getattr(stream, "chunks", []) or []) if stream is not None else []
    backend = getattr(stream, "backend", None) or getattr(client, "backend", None)
    text = getattr(error, "partial_text", "") or (view.partial.text if view is not None else "")
    return _partial_result(chunks, getattr(stream, "request", None), backend, state, text), state, error


def _stream_turn(client: Any, messages: list[dict], params: Mapping[str, Any], card: _Card) -> Outcome:
    result, state, error = _read_stream(client, messages, params, lambda partial: card.grow(partial))
    card.finish(result, state)
    return Outcome(result, state, error, messages=messages)


def _tool_turn(client: Any, messages: list[dict], params: Mapping[str, Any], turn: Turn, card: _Card) -> Outcome:
    """The tool calls (and ``--run-tools`` rounds) shown as they happen: a call's row appears when
    the streamed answer names it, its result when it has run."""
    from types import SimpleNamespace

    from dms_magic.tools import tool_loop

    ended: dict[str, Any] = {}
    answered: dict[str, Any] = {}  # the last round's answer, its rows so far and the calls it asked for

    def progress(conversation: list[dict]) -> Any:
        # the rows of the rounds run so far, read off the conversation (calls and their tool messages)
        runs = _runs_so_far(conversation[len(messages):])
        return SimpleNamespace(transcript=runs, rounds=len({r.round for r in runs}), stopped="")

    def send(conversation: list[dict]) -> Any:
        so_far = progress(conversation)
        shown = so_far if so_far.transcript else None
        card.grow(_empty_partial(params), loop=shown, force=True)  # the rows so far, before the answer
        result, state, error = _read_stream(client, conversation, params, lambda p: card.grow(p, loop=shown))
        if state != FINISHED:
            ended.update(result=result, state=state, error=error, loop=so_far)
            raise _Ended()
        calls = _calls_of(result)
        if calls and turn.run_tools is not None:  # each call's row now; its result once it has run
            card.grow(result, loop=_next_round(so_far, calls, "running…", None), force=True)
        answered.update(result=result, loop=so_far, calls=calls)
        return result

    try:
        if turn.run_tools is not None:
            loop = tool_loop(send, messages, turn.functions, max_rounds=turn.run_tools)
            pending = list(loop.result.tool_calls) if loop.stopped == "max_rounds" else []
            card.finish(loop.result, FINISHED, loop=loop, pending=pending)
            return Outcome(loop.result, FINISHED, messages=loop.messages, loop=loop)
        result = send(messages)
    except _Ended:
        so_far = ended["loop"]
        card.finish(ended["result"], ended["state"], loop=so_far if so_far.transcript else None,
                    pending=_calls_of(ended["result"]))
        return Outcome(ended["result"], ended["state"], ended["error"], messages=messages)
    except KeyboardInterrupt as exc:  # Ctrl-C while a tool ran (a stream's own Ctrl-C ends its round above)
        if not answered:
            raise
        rows = _next_round(answered["loop"], answered["calls"], "stopped (Ctrl-C) before it returned", False)
        result = mark_partial(answered["result"], STOPPED)  # the round's answer: the calls it asked for
        card.finish(result, STOPPED, loop=rows)
        return Outcome(result, STOPPED, exc, messages=messages)
    card.finish(result, FINISHED, pending=list(result.tool_calls))
    return Outcome(result, FINISHED, messages=messages)


def _next_round(so_far: Any, calls: list, content: str, ok: bool | None) -> Any:
    """The rows so far and one more round whose calls have not returned (``content`` says why)."""
    from types import SimpleNamespace

    pending = [SimpleNamespace(round=so_far.rounds + 1, call=c, message={"content": content}, ok=ok) for c in calls]
    return SimpleNamespace(transcript=[*so_far.transcript, *pending], rounds=so_far.rounds + 1, stopped="")


class _Ended(BaseException):
    """Leaves ``tool_loop`` when a round was stopped or broke off (a BaseException: the loop and
    the tools never catch it)."""


def _empty_partial(params: Mapping[str, Any]) -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(text="", reasoning="", backend=None, model=params.get("model"),
                           masked=bool(params.get("need_desensitization")), request=None, messages=None,
                           request_id=None, latency=None, usage_dict=None, token_logprobs=None,
                           finish_reason=None)


def _calls_of(partial: Any) -> list:
    calls = getattr(partial, "tool_calls", None)
    return list(calls) if calls else []


def _runs_so_far(tail: list[dict]) -> list:
    """ToolRun-like rows (round, call, ok, message) from the assistant calls and tool messages."""
    from types import SimpleNamespace

    from dms_magic.wire.result import ToolCall

    answers = {m.get("tool_call_id"): m for m in tail if m.get("role") == "tool"}
    runs, round_no = [], 0
    for message in tail:
        if message.get("role") != "assistant" or not message.get("tool_calls"):
            continue
        round_no += 1
        for wire in message["tool_calls"]:
            call = ToolCall.from_wire(wire)
            reply = answers.get(call.id) or {"content": "…"}
            runs.append(SimpleNamespace(round=round_no, call=call, message=reply,
                                        ok=not str(reply.get("content", "")).startswith("Error: ")))
    return runs


def plain_text(result: Any) -> str:
    return chat_result_text(result)

