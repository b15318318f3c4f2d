"""The widget form: the same ChatWithDesensitize requests as ``%%dmschat``, built by clicking.

Every parameter control is generated from ``dms_magic.params.PARAMS`` (kind, range, choices, group,
help, example); nothing here lists parameters by hand. Values are checked with ``Param.coerce`` /
``Param.from_text`` and ``ChatRequest.validate``, so a bad value gives exactly the ValueError the
magic and the client give, shown next to the control, and nothing is sent.

A control that is left unset sends nothing (the parameter is omitted, as the SDK omits None):
text fields are unset when empty, tri-state toggles have a "default" position and sliders have a
checkbox that ticks itself as soon as the slider moves.

ipywidgets is imported here, never at ``import dms_magic`` time.
"""
from __future__ import annotations

import re
import shlex
import time
from typing import Any, Callable

import ipywidgets as W

from dms_magic.params import BY_NAME, ChatRequest, InvalidParameterError, Param, option_params
from dms_magic.render import esc

# Suggestions for the model combobox (any other model id can be typed in).
KNOWN_MODELS = (
    "qwen-plus", "qwen-max", "qwen-turbo", "qwen-flash", "qwen-long",
    "qwen3-max", "qwen3-max-preview", "qwen-plus-latest", "qwen-max-latest", "qwen-turbo-latest",
    "qwen3-235b-a22b", "qwen3-32b", "qwen3-30b-a3b", "qwen3-coder-plus",
)

LABEL_WIDTH = "16em"
CONTROL_WIDTH = "24em"
# An int slider with no upper bound in the table (top_k) spans this far; set() widens it for a larger
# valid value instead of clamping.
OPEN_SLIDER_SPAN = 100
# Ints with a bounded range this small are sliders (top_logprobs); wider ones (seed) are text fields.
SMALL_INT_SPAN = 100
FLOAT_STEP = 0.01
USED_HANDLE_COLOUR = "#1f6feb"
# Groups shown open, in this order. In the "advanced" group the switches (search, code interpreter,
# ...) stay visible and the structured JSON fields are folded into an Accordion.
OPEN_GROUPS = ("basic", "masking", "sampling", "output")
ADVANCED_GROUP = "advanced"
FOLDED_KINDS = ("json_object", "json_text", "str_list")
FOLDED_TITLE = "advanced JSON fields"
DEFAULT_SESSION_NAME = "form"
STREAM_REFRESH_SECONDS = 0.05


def _error_span(text: Any) -> str:
    """A problem shown in the form: red, escaped (the only way error text reaches its HTML)."""
    return f'<span style="color:#b00020">{esc(text)}</span>'


def form(*, client: Any = None, session_name: str = DEFAULT_SESSION_NAME, **defaults: Any) -> "DmsChatForm":
    """A widget form for ChatWithDesensitize; display it (or its ``.widget``) in a notebook.

    ``client``: a DmsChatClient; by default the same client the magic uses
    (``dms_magic.session.default_client()``), looked up at send time so config changes apply.
    ``defaults``: initial values, ``prompt=``, ``system=``, ``conversation=`` and Python parameter
    names; they override the session configuration.
    ``session_name``: the conversation's name, shared with ``%%dmschat --session`` (conversation mode).
    """
    return DmsChatForm(client=client, session_name=session_name, **defaults)


# -- one control per parameter -------------------------------------------------------------------

def _tooltip(param: Param) -> str:
    extra = " Used by Stream only." if param.sse_only else ""
    return f"{param.help} Valid: {param.range_text()}.{extra}"


class _Row:
    """One labelled control with its own message area. ``read()`` gives the checked Python value
    (None when unset) or raises InvalidParameterError; ``write()`` shows a checked value."""

    def __init__(self, param: Param, control: W.Widget, label: W.Widget | None = None):
        self.param = param
        self.control = control
        self.label = label or W.Label(param.name, layout=W.Layout(width=LABEL_WIDTH))
        self.label.tooltip = _tooltip(param)
        self.control.tooltip = _tooltip(param)
        self.message = W.HTML("", layout=W.Layout(margin="0 0 0 1em"))
        self.message.add_class("dms-form-error")
        self.error = ""
        self.box = W.HBox([self.label, self.control, self.message])
        self.box.add_class("dms-param-" + param.name.replace("_", "-"))

    def read(self) -> Any:
        raise NotImplementedError

    def write(self, value: Any) -> None:
        raise NotImplementedError

    def show_error(self, message: str | None) -> None:
        self.error = message or ""  # plain text, for scripts and tests
        self.message.value = _error_span(message) if message else ""

    def check(self, _change: Any = None) -> None:
        """Live validation: show or clear the message as the user edits."""
        try:
            self.read()
        except InvalidParameterError as err:
            self.show_error(str(err))
        else:
            self.show_error(None)


class _TextRow(_Row):
    """A typed value: empty means unset; the text is parsed with Param.from_text."""

    def __init__(self, param: Param, control: W.Widget):
        super().__init__(param, control)
        if param.example is not None:
            control.placeholder = f"e.g. {_shown(param, param.example)}"
        control.observe(self.check, names="value")

    def read(self) -> Any:
        text = (self.control.value or "").strip()
        if not text:
            return None
        return self.param.from_text(text)

    def write(self, value: Any) -> None:
        self.control.value = "" if value is None else _shown(self.param, value)


class _ChoiceRow(_Row):
    """Booleans (default / on / off) and choices (default / each choice): one click, unset allowed."""

    DEFAULT = "default"

    def __init__(self, param: Param):
        if param.kind == "bool":
            self.values = {self.DEFAULT: None, "on": True, "off": False}
            control = W.ToggleButtons(options=list(self.values), value=self.DEFAULT,
                                      style={"button_width": "5.5em"})
        else:
            self.values = {self.DEFAULT: None, **{c: c for c in param.choices}}
            control = W.Dropdown(options=list(self.values), value=self.DEFAULT,
                                 layout=W.Layout(width="12em"))
        super().__init__(param, control)

    def read(self) -> Any:
        return self.values[self.control.value]

    def write(self, value: Any) -> None:
        for label, v in self.values.items():
            if v == value and type(v) is type(value):
                self.control.value = label
                return
        raise InvalidParameterError(self.param.name, value, self.param.range_text())


class _SliderRow(_Row):
    """A numeric range as a slider; its checkbox says whether the value is sent at all."""

    def __init__(self, param: Param):
        self.use = W.Checkbox(value=False, description=param.name, indent=False,
                              layout=W.Layout(width=LABEL_WIDTH))
        low, high = _slider_bounds(param)
        start = param.example if param.example is not None else low
        if param.kind == "float":
            slider = W.FloatSlider(min=low, max=high, step=FLOAT_STEP, value=start, readout_format=".2f",
                                   continuous_update=False, layout=W.Layout(width=CONTROL_WIDTH))
        else:
            slider = W.IntSlider(min=int(low), max=int(high), step=1, value=int(start),
                                 continuous_update=False, layout=W.Layout(width=CONTROL_WIDTH))
        super().__init__(param, slider, label=self.use)
        self._writing = False
        slider.observe(self._moved, names="value")
        self.use.observe(self._ticked, names="value")
        self._ticked()

    def _ticked(self, _change: Any = None) -> None:
        # An unticked slider still shows a position; only a ticked one gets a coloured handle.
        self.control.style.handle_color = USED_HANDLE_COLOUR if self.use.value else None
        self.check()

    def _moved(self, _change: Any) -> None:
        if not self._writing:  # the user moved it: they mean it to be sent
            self.use.value = True
        self.check()

    def read(self) -> Any:
        if not self.use.value:
            return None
        return self.param.coerce(self.control.value)

    def write(self, value: Any) -> None:
        if value is None:
            self.use.value = False
            return
        self._writing = True
        try:
            # A valid value outside the slider's span (e.g. temperature 1.995, top_k 500) widens
            # the span rather than being clamped by the slider.
            if value > self.control.max:
                self.control.max = value
            if value < self.control.min:
                self.control.min = value
            if self.param.kind == "float":  # show 1.995 as 1.995, not rounded to 2.00
                self.control.readout_format = f".{max(2, _decimals(value))}f"
            self.control.value = value
        finally:
            self._writing = False
        self.use.value = True


def _decimals(value: float) -> int:
    text = repr(float(value))
    return 0 if "e" in text or "." not in text else len(text.split(".")[1].rstrip("0"))


def _slider_bounds(param: Param) -> tuple[float, float]:
    step = FLOAT_STEP if param.kind == "float" else 1
    low = param.minimum if param.minimum is not None else 0
    if not param.min_inclusive:
        low += step
    if param.maximum is None:
        high = low + OPEN_SLIDER_SPAN
    else:
        high = param.maximum if param.max_inclusive else param.maximum - step
    return low, high


def _is_slider(param: Param) -> bool:
    if param.kind == "float":
        return param.minimum is not None and param.maximum is not None
    if param.kind == "int":
        if param.minimum is not None and param.maximum is not None:
            return param.maximum - param.minimum <= SMALL_INT_SPAN
        return param.group == "sampling"  # an open-ended sampling knob (top_k)
    return False


def _shown(param: Param, value: Any) -> str:
    """A checked value as the text a person types into the field (parsed back by from_text)."""
    if param.kind in ("str", "json_text", "choice"):
        return str(value)
    if param.kind == "bool":
        return "true" if value else "false"
    return param.to_text(value)


def _make_row(param: Param, suggestions: dict[str, Callable[[], list[str]]]) -> _Row:
    if param.kind in ("bool", "choice"):
        return _ChoiceRow(param)
    if _is_slider(param):
        return _SliderRow(param)
    if param.kind in ("json_object", "json_text"):
        area = W.Textarea(rows=2, layout=W.Layout(width=CONTROL_WIDTH))
        return _TextRow(param, area)
    if param.name in suggestions:
        try:
            options = list(suggestions[param.name]())
        except Exception:  # a suggestion source failing must not break the form
            options = []
        combo = W.Combobox(options=options, ensure_option=False, layout=W.Layout(width=CONTROL_WIDTH))
        return _TextRow(param, combo)
    return _TextRow(param, W.Text(layout=W.Layout(width=CONTROL_WIDTH)))


def _rule_categories() -> list[str]:
    from dms_magic.masking import rule_categories

    return list(rule_categories())


# Where the comboboxes get their suggestions from (typing any other value is allowed).
SUGGESTIONS: dict[str, Callable[[], list[str]]] = {
    "model": lambda: list(KNOWN_MODELS),
    "desensitization_rule": _rule_categories,
}


# -- the form -------------------------------------------------------------------------------------

class DmsChatForm:
    """The form. ``.widget`` is the root ipywidget; everything a click does is a method too."""

    def __init__(self, *, client: Any = None, session_name: str = DEFAULT_SESSION_NAME, **defaults: Any):
        self._client = client
        self.result: Any = None
        self.session_name = session_name
        self._own_history: list[dict] = []
        self.rows: dict[str, _Row] = {
            p.name: _make_row(p, SUGGESTIONS) for p in option_params() if p.name != "stream"
        }
        # "stream" is not a control: the Stream button is.
        self.prompt = W.Textarea(placeholder="Your message (e.g. 我叫张伟，手机号13812345678，请帮我写一封投诉信。)",
                                 rows=4, layout=W.Layout(width="48em"))
        self.prompt_message = W.HTML("")
        self.system = W.Textarea(placeholder="Optional system prompt", rows=2, layout=W.Layout(width="48em"))
        self.conversation = W.Checkbox(value=False, description="conversation (keep history across sends)",
                                       indent=False)
        self.buttons = {
            name: W.Button(description=name, button_style=style, icon=icon)
            for name, style, icon in (
                ("Send", "primary", "paper-plane"), ("Stream", "info", "stream"),
                ("Compare", "", "columns"), ("Copy as cell", "", "copy"), ("Clear", "warning", "eraser"))
        }
        # Stable CSS hooks for the page (and the browser test): dms-prompt, dms-button-send, ...
        self.prompt.add_class("dms-prompt")
        self.system.add_class("dms-system")
        for name, button in self.buttons.items():
            button.add_class("dms-button-" + name.lower().replace(" ", "-"))
        self.buttons["Send"].on_click(lambda _b: self._clicked(self.send))
        self.buttons["Stream"].on_click(lambda _b: self._clicked(self.stream))
        self.buttons["Compare"].on_click(lambda _b: self._clicked(self.compare))
        self.buttons["Copy as cell"].on_click(lambda _b: self._clicked(self.copy_as_cell))
        self.buttons["Clear"].on_click(lambda _b: self.clear())
        self.status = W.HTML("")
        self.output = W.Output(layout=W.Layout(border="1px solid #ddd", min_height="2em", padding="4px"))
        self.output.add_class("dms-form-output")
        self.cell_output = W.Output()  # "Copy as cell" shows the cell text here
        self.cell_output.add_class("dms-form-cell")
        self.status.add_class("dms-form-status")
        self.widget = self._layout()
        self.widget.add_class("dms-chat-form")

        self._apply_config_defaults()
        self.set(**defaults)

    # -- layout --------------------------------------------------------------------------------
    def _layout(self) -> W.Widget:
        known = set(OPEN_GROUPS) | {ADVANCED_GROUP}
        folded = [r for r in self.rows.values()
                  if r.param.kind in FOLDED_KINDS and r.param.group not in OPEN_GROUPS]
        parts: list[W.Widget] = [
            W.HBox([W.Label("prompt", layout=W.Layout(width=LABEL_WIDTH)), self.prompt, self.prompt_message]),
            W.HBox([W.Label("system", layout=W.Layout(width=LABEL_WIDTH)), self.system]),
        ]
        for group in (*OPEN_GROUPS, ADVANCED_GROUP):
            rows = [r.box for r in self.rows.values()
                    if r.param.group == group and r not in folded]
            if rows:
                parts.append(W.HTML(f"<b>{esc(group)}</b>"))
                parts.extend(rows)
        # A group the table gains later still shows up: in the folded part.
        folded += [r for r in self.rows.values() if r.param.group not in known and r not in folded]
        self.advanced = W.Accordion(children=[W.VBox([r.box for r in folded])], titles=(FOLDED_TITLE,))
        self.advanced.selected_index = None  # folded
        parts += [self.advanced, self.conversation, W.HBox(list(self.buttons.values())), self.status,
                  self.cell_output, self.output]
        return W.VBox(parts)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict):  # text/plain is what a non-widget frontend (or a log) shows
            bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self._safe_values().items())
        return f"<DmsChatForm {shown or 'no parameters set'}; display it in a notebook to use it>"

    def _safe_values(self) -> dict[str, Any]:
        out = {}
        for name, row in self.rows.items():
            try:
                value = row.read()
            except InvalidParameterError:
                value = "(invalid)"
            if value is not None:
                out[name] = value
        return out

    # -- values --------------------------------------------------------------------------------
    def set(self, **values: Any) -> "DmsChatForm":
        """Set controls: ``prompt=``, ``system=``, ``conversation=`` and Python parameter names.
        None unsets a parameter. An invalid value raises ValueError (InvalidParameterError), is
        shown next to its control and changes nothing (every value is checked before any is
        applied); nothing is clamped."""
        checked: dict[str, Any] = {}
        for key, value in values.items():
            if key in ("prompt", "system", "conversation"):
                continue
            row = self.rows.get(key)
            if row is None:
                raise self._unknown(key, value)
            try:
                checked[key] = None if value is None else row.param.coerce(value)
            except InvalidParameterError as err:
                row.show_error(str(err))
                raise
        for key, value in checked.items():
            self.rows[key].write(value)
            self.rows[key].show_error(None)
        if "prompt" in values:
            self.prompt.value = "" if values["prompt"] is None else str(values["prompt"])
        if "system" in values:
            self.system.value = "" if values["system"] is None else str(values["system"])
        if "conversation" in values:
            self.conversation.value = bool(values["conversation"])
        return self

    @staticmethod
    def _unknown(key: str, value: Any) -> InvalidParameterError:
        if key == "stream":
            return InvalidParameterError("stream", value, "no form value: call .stream() (the Stream button)")
        if key == "messages":
            return InvalidParameterError("messages", value, "prompt= (and system=, conversation=) in the form")
        from dms_magic.params import find

        name = find(key).name  # raises with a "did you mean" hint for a misspelling
        return InvalidParameterError(key, value, f"the Python name: set({name}=...)")

    def values(self) -> dict[str, Any]:
        """The parameters the form would send now (Python names, unset ones left out).
        Raises the first InvalidParameterError; every bad control shows its message."""
        out: dict[str, Any] = {}
        first: InvalidParameterError | None = None
        for name, row in self.rows.items():
            try:
                value = row.read()
            except InvalidParameterError as err:
                row.show_error(str(err))
                first = first or err
                continue
            row.show_error(None)
            if value is not None:
                out[name] = value
        if first is not None:
            raise first
        return out

    def messages(self) -> list[dict]:
        """The messages the next send carries: the conversation so far (conversation mode), the
        system prompt (replacing an earlier one, as ``%%dmschat --system`` does), the prompt."""
        prompt = self.prompt.value
        if not prompt.strip():
            err = InvalidParameterError("prompt", prompt, "a message to send (type it in the prompt box)")
            self.prompt_message.value = _error_span(err)
            raise err
        self.prompt_message.value = ""
        messages = list(self.history) if self.conversation.value else []
        if self.system.value.strip():
            messages = [m for m in messages if m.get("role") != "system"]
            messages.insert(0, {"role": "system", "content": self.system.value})
        messages.append({"role": "user", "content": prompt})
        return messages

    # conversation history: shared with `%%dmschat --session <session_name>` when the magic is
    # loaded (so `%dmschat history form` shows it and a copied cell continues it), else our own.
    @property
    def history(self) -> list[dict]:
        store = _magic_histories()
        if store is not None:
            return list(store.get(self.session_name, []))
        return list(self._own_history)

    @history.setter
    def history(self, messages: list[dict]) -> None:
        store = _magic_histories()
        if store is not None:
            if messages:
                store[self.session_name] = list(messages)
            else:
                store.pop(self.session_name, None)
        self._own_history = list(messages)

    def _prepare(self, *, stream: bool) -> tuple[Any, list[dict], dict[str, Any]]:
        """Client, messages and parameters for one send, resolved exactly as ``%%dmschat`` resolves
        them (configured defaults fill what the form leaves unset) and checked like the client
        checks them. Raises ValueError (shown next to the control) instead of sending."""
        params = self.values()
        if not stream:  # SSE-only controls (include_usage) belong to the Stream button
            params = {k: v for k, v in params.items() if not BY_NAME[k].sse_only}
        messages = self.messages()
        from dms_magic import session

        client, settings = self._client, None
        if client is None:
            settings = session.resolve(None, params.get("instance_id"), None)
            client = session.client_for(settings)
        params = session.request_params(settings, params, stream=stream)
        try:
            ChatRequest(messages, **params).validate(
                stream=stream, require_instance=getattr(client, "instance_id", None) is None)
        except InvalidParameterError as err:
            row = self.rows.get(err.param)
            if row is not None:
                row.show_error(str(err))
            raise
        return client, messages, params

    def _apply_config_defaults(self) -> None:
        """Start from the same configuration the magic uses (model, instance, masking ...)."""
        for name, value in _config_defaults().items():
            if name in self.rows:
                try:
                    self.set(**{name: value})
                except ValueError:
                    pass  # a bad configured default shows next to its control; the user fixes it there
        self._show_instance_default()

    def _show_instance_default(self) -> None:
        """An empty instance_id sends the resolved default; say which one (and where it comes from)."""
        control = self.rows["instance_id"].control
        instance = getattr(self._client, "instance_id", None)
        where = "this form's client"
        if self._client is None:
            from dms_magic import session

            try:
                settings = session.resolve()
            except ValueError as err:  # e.g. a malformed DMS_MAGIC_INSTANCE_ID: say so where it matters
                self.rows["instance_id"].show_error(str(err))
                return
            source = settings.sources.get("instance_id", "")
            instance = settings.instance_id
            where = {"config": "%dmschat config", "environment": "DMS_MAGIC_INSTANCE_ID"}.get(
                source, "the sandbox's" if "sandbox" in source else source)
        if instance is not None:
            control.placeholder = f"default: {instance} ({where})"
        else:
            control.placeholder = "required: the DMS instance id"

    # -- actions -------------------------------------------------------------------------------
    def send(self) -> Any:
        """Send the form's request; show the result card; return the ChatResult."""
        client, messages, params = self._prepare(stream=False)
        self._show_status("sending ...")
        started = time.perf_counter()
        result = client.chat(messages, **params)
        self._finish(messages, result, started)
        return result

    def stream(self) -> Any:
        """Stream the answer into the output area as it arrives; return the final ChatResult."""
        from dms_magic.notebook.display import StreamView
        from dms_magic.render import chat_result_html

        client, messages, params = self._prepare(stream=True)
        self._show_status("streaming ...")
        started = time.perf_counter()
        options = _magic_display_options()
        every = getattr(_loaded_magics(), "stream_update_interval", STREAM_REFRESH_SECONDS)
        view = StreamView(backend=getattr(client, "backend", None), model=params.get("model"),
                          masked=bool(params.get("need_desensitization")), display=False)
        last = 0.0
        # `with`, as the magic streams: an error mid-stream must not leave the connection open
        with client.stream(messages, **params) as chat_stream:
            for chunk in chat_stream:
                view.add(chunk)
                now = time.monotonic()
                if now - last >= every:  # each refresh is a comm message to the page (magic's interval)
                    last = now
                    self.output.outputs = (_html_output(chat_result_html(view.partial, streaming=True, **options),
                                                        view.partial.text),)
            result = chat_stream.result
        self._finish(messages, result, started)
        return result

    def compare(self) -> Any:
        """Send the prompt masked and unmasked; show the comparison; return the Comparison."""
        client, messages, params = self._prepare(stream=False)
        from dms_magic.comparison import compare

        self._show_status("comparing ...")
        started = time.perf_counter()
        comparison = compare(messages, client=client, **params)
        self.result = comparison
        self.output.outputs = ()
        self.output.append_display_data(comparison)
        self._show_status(f"compared in {time.perf_counter() - started:.2f} s")
        return comparison

    def _finish(self, messages: list[dict], result: Any, started: float) -> None:
        from dms_magic.notebook.display import bundle

        self.result = result
        if self.conversation.value:
            self.history = [*messages, {"role": "assistant", "content": result.text or ""}]
        data, metadata = bundle(result, **_magic_display_options())  # the magic's card, byte for byte
        self.output.outputs = ({"output_type": "display_data", "data": data, "metadata": metadata},)
        turns = sum(1 for m in self.history if m.get("role") == "assistant")
        history = (f" · conversation {esc(self.session_name)!s}: {turns} turn{'s' if turns != 1 else ''}"
                   if self.conversation.value else "")
        backend = getattr(result, "backend", None) or "?"
        self._show_status(f"answered by {esc(backend)} in "
                          f"{time.perf_counter() - started:.2f} s{history}")

    def _show_status(self, text: str) -> None:
        self.status.value = f'<span style="color:#555">{text}</span>'

    def _clicked(self, action: Callable[[], Any]) -> None:
        """A button press: run the action; errors become a message, never a traceback. The
        buttons are disabled meanwhile, so an impatient second click does not send twice."""
        for button in self.buttons.values():
            button.disabled = True
        try:
            action()
        except InvalidParameterError as err:
            self._show_status(_error_span(f"Not sent: {err}"))
        except Exception as err:  # API, settings and transport errors: one clear message in the output
            from dms_magic.notebook.display import redact

            # The magic's wording (DmsError's one line: code, message, hint, RequestId) and secret filter.
            text = redact(str(err))
            self._show_status(_error_span(f"Failed: {type(err).__name__}"))
            self.output.outputs = (_html_output(
                f'<div style="color:#b00020;white-space:pre-wrap">{esc(text)}</div>', text),)
        finally:
            for button in self.buttons.values():
                button.disabled = False

    def clear(self) -> None:
        """Empty the prompt, the output and the conversation history (parameters stay)."""
        self.prompt.value = ""
        self.prompt_message.value = ""
        self.history = []
        self.result = None
        self.output.outputs = ()
        self.cell_output.outputs = ()
        self._show_status("")
        for row in self.rows.values():
            row.show_error(None)

    # -- as a cell -----------------------------------------------------------------------------
    def to_magic(self, *, stream: bool = False, compare: bool = False) -> str:
        """The equivalent ``%%dmschat`` cell: options (Param.option spellings) then the prompt.

        The cell uses the magic's default client (configuration, environment, sandbox); a
        ``client=`` given to the form has no cell spelling. Raises ValueError for a system prompt
        with line breaks: the option line of a cell cannot hold one."""
        params = self.values()
        if "\n" in self.system.value.strip() or "\r" in self.system.value.strip():
            raise ValueError("the system prompt has line breaks, which the %%dmschat option line cannot hold: "
                             "write it on one line to get a cell, or keep using the form / dms_magic.chat()")
        if not stream:
            params = {k: v for k, v in params.items() if not BY_NAME[k].sse_only}
        words = ["%%dmschat"]
        if stream:
            words.append(BY_NAME["stream"].option)
        if compare:
            words.append("--compare")
        if self.conversation.value:
            words += ["--session", shlex.quote(self.session_name)]
        if self.system.value.strip():
            words += ["--system", shlex.quote(self.system.value)]
        if _PLACEHOLDER.search(self.prompt.value):  # the magic would substitute {name}; the form does not
            words.append("--no-interpolate")
        for name, value in params.items():
            words += _magic_option(BY_NAME[name], value)
        return " ".join(words) + "\n" + self.prompt.value

    def copy_as_cell(self) -> None:
        """Put the equivalent ``%%dmschat`` cell below where the frontend allows; always show it
        (under the buttons, leaving the last result in place). ``to_magic()`` gives the text."""
        text = self.to_magic()
        inserted = _insert_cell_below(text)
        # A button click cannot reach JupyterLab's notebook (no page API, no reply payload), so
        # there the text is shown (click selects it) and offered to the clipboard.
        note = ("The equivalent cell, inserted below:" if inserted == "set_next_input" else
                "The equivalent cell (Classic Notebook inserts it below; elsewhere copy it, or run "
                "f.copy_as_cell() in a cell to have it inserted below):")
        from IPython.display import HTML, Javascript

        self.cell_output.outputs = ()
        self.cell_output.append_display_data(HTML(
            f"<div>{esc(note)}</div><pre style='user-select:all'>{esc(text)}</pre>"))
        if inserted is None:
            self.cell_output.append_display_data(Javascript(_insert_cell_js(text)))
        self._show_status("copied as cell")


_PLACEHOLDER = re.compile(r"\{[A-Za-z_]\w*\}")


def _shell() -> Any:
    """The running IPython shell, or None outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _loaded_magics() -> Any:
    """The DmsChatMagics instance when ``%load_ext dms_magic`` ran in this shell, else None."""
    shell = _shell()
    return None if shell is None else shell.magics_manager.registry.get("DmsChatMagics")


def _magic_histories() -> dict | None:
    """The magic's named conversations (``%%dmschat --session``), when the extension is loaded."""
    histories = getattr(_loaded_magics(), "histories", None)
    return histories if isinstance(histories, dict) else None


def _magic_display_options() -> dict[str, Any]:
    """The magic's card options (``%config DmsChatMagics.show_usage`` ...), so both cards match."""
    options = getattr(_loaded_magics(), "_display_options", None)
    return dict(options()) if callable(options) else {}


def _magic_option(param: Param, value: Any) -> list[str]:
    if param.kind == "bool":
        return [param.option] if value else [param.option, "false"]
    return [param.option, shlex.quote(_shown(param, value))]


def _html_output(markup: str, plain: str) -> dict:
    return {"output_type": "display_data", "data": {"text/html": markup, "text/plain": plain}, "metadata": {}}


def _config_defaults() -> dict[str, Any]:
    """The magic's configuration layer (``%config DmsChatMagics.*``, ``%dmschat config``) as form
    values: request-parameter defaults plus a configured instance id."""
    from dms_magic import session

    values = dict(session.request_defaults())
    instance_id = session.configured().get("instance_id")
    if instance_id is not None:
        values["instance_id"] = instance_id
    return {k: v for k, v in values.items() if v is not None}


def _insert_cell_below(text: str) -> str | None:
    """Insert a cell through IPython when the call comes from running code (an execute request
    carries the set_next_input payload); a button click does not, so the caller falls back to JS."""
    shell = _shell()
    if shell is None:
        return None
    kernel = getattr(shell, "kernel", None)
    parent = shell.get_parent() if hasattr(shell, "get_parent") else None
    msg_type = ((parent or {}).get("header") or {}).get("msg_type")
    if kernel is not None and msg_type != "execute_request":
        return None  # a comm message (button click): a payload here would surface on some later cell
    shell.set_next_input(text, replace=False)
    return "set_next_input"


def _insert_cell_js(text: str) -> str:
    import json

    source = json.dumps(text)
    # Classic Notebook exposes Jupyter.notebook; JupyterLab/Notebook 7 expose jupyterapp when the
    # page allows it. Otherwise the text stays on screen to copy.
    return (
        "(function(){var t=" + source + ";"
        "try{if(window.Jupyter&&Jupyter.notebook){var c=Jupyter.notebook.insert_cell_below('code');"
        "c.set_text(t);return;}"
        "var app=window.jupyterapp||window.jupyterlab;"
        "if(app&&app.commands){app.commands.execute('notebook:insert-cell-below').then(function(){"
        "var w=app.shell.currentWidget;var cell=w&&w.content&&w.content.activeCell;"
        "if(cell){cell.model.sharedModel.setSource(t);}});return;}"
        "if(navigator.clipboard){navigator.clipboard.writeText(t);}"
        "}catch(e){}})();"
    )
