"""The widget form: the same ChatWithDesensitize requests as ``%%dmschat``, built by clicking.

Every parameter control is generated from ``dms_magic.wire.params.PARAMS`` (kind, range, choices, group,
help, example); nothing here lists parameters by hand. Values are checked with ``Param.coerce`` /
``Param.from_text`` and ``ChatRequest.validate``, so a bad value gives exactly the ValueError the
magic and the client give, shown next to the control, and nothing is sent.

A control that is left unset sends nothing (the parameter is omitted, as the SDK omits None):
text fields are unset when empty, tri-state toggles have a "default" position and sliders have a
checkbox that ticks itself as soon as the slider moves.

ipywidgets is imported here, never at ``import dms_magic`` time.
"""
from __future__ import annotations

import shlex
import time
from typing import Any, Callable

import ipywidgets as W

from dms_magic.errors import InvalidParameterError
from dms_magic.wire.params import BY_NAME, Param, option_params
from dms_magic.wire.request import ChatRequest
from dms_magic.views.render import ERROR_STYLE, MUTED_STYLE, esc

from dms_magic.notebook import images_tools  # noqa: E402  (the image upload control, the card's image section)
from dms_magic.notebook.vocabulary import KNOWN_MODELS, PLACEHOLDER  # noqa: E402  (the model suggestions, one list)

LABEL_WIDTH = "16em"
CONTROL_WIDTH = "24em"
# An int slider with no upper bound in the table (top_k) spans this far; set() widens it for a larger
# valid value instead of clamping.
OPEN_SLIDER_SPAN = 100
# Ints with a bounded range this small are sliders (top_logprobs); wider ones (seed) are text fields.
SMALL_INT_SPAN = 100
FLOAT_STEP = 0.01
USED_HANDLE_COLOUR = "#1f6feb"
SEND_COLOUR = "#0550ae"
# A click the browser sent within this long after the last one acted on is the second half of a
# double click: ignored, so a double click sends once.
DOUBLE_CLICK_SECONDS = 0.5
NEEDS_LOGPROBS = "top_logprobs needs logprobs: set logprobs to on, or untick top_logprobs"
UNSET_TEXT = "default"  # what an unticked slider's readout says: nothing is sent
READOUT_WIDTH = "6em"
# Groups shown open, in this order. In the "advanced" group the switches (search, code interpreter,
# ...) stay visible and the structured JSON fields are folded into an Accordion.
OPEN_GROUPS = ("basic", "masking", "sampling", "output")
ADVANCED_GROUP = "advanced"
FOLDED_KINDS = ("json_object", "json_text", "str_list")
FOLDED_TITLE = "advanced JSON fields"
DEFAULT_SESSION_NAME = "form"
# ipywidgets' folded-section title is the theme's secondary text on a grey bar (4.2-4.4:1); ours
# uses the primary text colour. (A widget's HTML is not sanitized, so a <style> works here.)
FORM_CSS = ("<style>.dms-chat-form .jupyter-widget-Collapse-header{color:var(--jp-ui-font-color1)}"
            "</style>")


def _error_span(text: Any) -> str:
    """A problem shown in the form: a light red chip with dark red text (readable in every theme),
    escaped (the only way error text reaches its HTML)."""
    return f'<span style="{ERROR_STYLE}">{esc(text)}</span>'


def _note_span(text: Any) -> str:
    """A remark that is not a problem (e.g. "turned on: top_logprobs needs it"), in the theme's colours."""
    return f'<span class="dms-form-note" style="{MUTED_STYLE}">{esc(text)}</span>'


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
            self.values: dict[str, Any] = {self.DEFAULT: None, "on": True, "off": False}
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
    """A numeric range as a slider, its own typed readout, and a checkbox that says whether the
    value is sent at all.

    Unticked, the readout says "default" and shows no number: nothing is sent and the service
    uses its default. The readout is a text field of ours, not the slider's: a slider clamps
    what is typed into its readout (5 became 1.99), ours checks it with ``Param.from_text`` and
    refuses an out-of-range value with the table's message, next to the control."""

    def __init__(self, param: Param):
        self.use = W.Checkbox(value=False, description=param.name, indent=False,
                              layout=W.Layout(width=LABEL_WIDTH))
        low, high = _slider_bounds(param)
        start = param.example if param.example is not None else low
        if param.kind == "float":
            slider = W.FloatSlider(min=low, max=high, step=FLOAT_STEP, value=start, readout=False,
                                   continuous_update=False, layout=W.Layout(width=CONTROL_WIDTH))
        else:
            slider = W.IntSlider(min=int(low), max=int(high), step=1, value=int(start), readout=False,
                                 continuous_update=False, layout=W.Layout(width=CONTROL_WIDTH))
        self.readout = W.Text(value="", placeholder=UNSET_TEXT, continuous_update=False,
                              layout=W.Layout(width=READOUT_WIDTH))
        self.readout.add_class("dms-readout")
        super().__init__(param, slider, label=self.use)
        self.use.tooltip = f"Ticked: send this value. Unticked: not sent (the service default). {_tooltip(param)}"
        self.box.children = (self.label, self.control, self.readout, self.message)
        self._writing = False
        slider.observe(self._moved, names="value")
        self.readout.observe(self._typed, names="value")
        self.use.observe(self._ticked, names="value")
        self._ticked()

    def _format(self, value: Any) -> str:
        if self.param.kind == "float":  # 1.995 as 1.995, 0.7 as 0.70
            return f"{value:.{max(2, _decimals(value))}f}"
        return str(int(value))

    def _show_readout(self, text: str) -> None:
        self._writing = True
        try:
            self.readout.value = text
        finally:
            self._writing = False

    def _ticked(self, _change: Any = None) -> None:
        # Unticked: visibly off (no coloured handle, "default" in the readout, no number).
        used = self.use.value
        self.control.style.handle_color = USED_HANDLE_COLOUR if used else None
        if used and not self.readout.value.strip():
            self._show_readout(self._format(self.control.value))
        elif not used:
            self._show_readout("")
        self.check()

    def _moved(self, _change: Any) -> None:
        if self._writing:
            return
        self._show_readout(self._format(self.control.value))
        self.use.value = True  # the user moved it: they mean it to be sent
        self.check()

    def _typed(self, _change: Any) -> None:
        if self._writing:
            return
        text = self.readout.value.strip()
        if not text:
            self.use.value = False
            self.check()
            return
        try:
            value = self.param.from_text(text)
        except InvalidParameterError as err:  # refused, never clamped: the slider keeps its value
            self.use.value = True  # typed means "send this": Send refuses until it is fixed
            self.show_error(str(err))
            return
        self._place(value)
        self.use.value = True
        self.check()

    def _place(self, value: Any) -> None:
        """Move the slider to a checked value; a valid value outside its span (temperature 1.995,
        top_k 500) widens the span rather than being clamped by the slider."""
        self._writing = True
        try:
            if value > self.control.max:
                self.control.max = value
            if value < self.control.min:
                self.control.min = value
            self.control.value = value
        finally:
            self._writing = False

    def read(self) -> Any:
        if not self.use.value:
            return None
        text = self.readout.value.strip()
        if text:
            return self.param.from_text(text)  # what the person sees is what is sent (or refused)
        return self.param.coerce(self.control.value)

    def write(self, value: Any) -> None:
        if value is None:
            self.use.value = False
            return
        self._place(value)
        self._show_readout(self._format(value))
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
        return (_RuleRow if param.name == "desensitization_rule" else _TextRow)(param, combo)
    return _TextRow(param, W.Text(layout=W.Layout(width=CONTROL_WIDTH)))


class _RuleRow(_TextRow):
    """The masking rule: checked as typed against the categories the masking engine knows, so a
    typo ("Userinfo") is flagged at once, with the close match, not when Send is refused."""

    def read(self) -> Any:
        value = super().read()
        if value is None:
            return None
        known = _rule_categories()
        if known and value not in known:
            import difflib

            close = difflib.get_close_matches(value, known, n=1, cutoff=0.6) or \
                [k for k in known if k.lower() == value.lower()]
            hint = f"did you mean {close[0]}? " if close else ""
            raise InvalidParameterError(self.param.name, value, f"a known rule category ({hint}known: "
                                                                f"{', '.join(known)})")
        return value


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
        self.images = images_tools.ImageUpload()  # added to the prompt; thumbnails; sent as they are (not masked)
        self.conversation = W.Checkbox(value=False, description="conversation (keep history across sends)",
                                       indent=False)
        # Theme button styles (info, warning) put white text on light colours (2.7:1); ours are the
        # theme's default buttons, and Send a dark blue with white text (7:1) in every theme.
        self.buttons: dict[str, Any] = {
            name: W.Button(description=name, icon=icon)
            for name, icon in (("Send", "paper-plane"), ("Stream", "stream"), ("Compare", "columns"),
                               ("Copy as cell", "copy"), ("Clear", "eraser"))
        }
        self.buttons["Send"].style.button_color = SEND_COLOUR
        self.buttons["Send"].style.text_color = "white"
        # Stable CSS hooks for the page (and the browser test): dms-prompt, dms-button-send, ...
        self.prompt.add_class("dms-prompt")
        self.system.add_class("dms-system")
        for name, button in self.buttons.items():
            button.add_class("dms-button-" + name.lower().replace(" ", "-"))
        self._last_click: dict[str, Any] = {}  # button -> when the browser sent its last click acted on
        self.buttons["Send"].on_click(lambda _b: self._clicked(self.send, attempt=True))
        self.buttons["Stream"].on_click(lambda _b: self._clicked(self.stream, attempt=True))
        self.buttons["Compare"].on_click(lambda _b: self._clicked(self.compare, attempt=True))
        self.buttons["Copy as cell"].on_click(lambda _b: self._clicked(self.copy_as_cell, refused="Not copied"))
        self.buttons["Clear"].on_click(lambda _b: self.clear())
        self.status = W.HTML("")
        self.output = W.Output(layout=W.Layout(border="1px solid #8c959f", min_height="2em", padding="4px"))
        self.output.add_class("dms-form-output")
        self.cell_output = W.Output()  # "Copy as cell" shows the cell text here
        self.cell_output.add_class("dms-form-cell")
        self.status.add_class("dms-form-status")
        self.widget = self._layout()
        self.widget.add_class("dms-chat-form")

        self._apply_config_defaults()
        self.set(**defaults)
        # Dependent parameters are handled as they change, not when Send refuses.
        for name in ("top_logprobs", "logprobs", "need_desensitization", "desensitization_rule"):
            row = self.rows.get(name)
            if row is not None:
                for widget in (row.control, getattr(row, "use", None), getattr(row, "readout", None)):
                    if widget is not None:
                        widget.observe(self._dependencies, names="value")
        self._dependencies()
        # A copied cell shown under the form is for the form as it was: any change takes it away,
        # so what is left to copy always matches the form (an attempt takes it away too: _clicked).
        for widget in self._inputs():
            widget.observe(self._forget_copied_cell, names="value")

    def _inputs(self) -> list[W.Widget]:
        """Every control whose value goes into the request (or the copied cell)."""
        widgets: list[W.Widget] = [self.prompt, self.system, self.conversation, self.images.upload]
        for row in self.rows.values():
            widgets += [w for w in (row.control, getattr(row, "use", None), getattr(row, "readout", None))
                        if w is not None]
        return widgets

    def _forget_copied_cell(self, _change: Any = None) -> None:
        if self.cell_output.outputs:
            self.cell_output.outputs = ()
            if "copied as cell" in self.status.value:  # it pointed at the cell just removed
                self._show_status("")

    # -- layout --------------------------------------------------------------------------------
    def _layout(self) -> W.Widget:
        known = set(OPEN_GROUPS) | {ADVANCED_GROUP}
        folded = [r for r in self.rows.values()
                  if r.param.kind in FOLDED_KINDS and r.param.group not in OPEN_GROUPS]
        parts: list[W.Widget] = [
            W.HBox([W.Label("prompt", layout=W.Layout(width=LABEL_WIDTH)), self.prompt, self.prompt_message]),
            W.HBox([W.Label("system", layout=W.Layout(width=LABEL_WIDTH)), self.system]),
            W.HBox([W.Label("images", layout=W.Layout(width=LABEL_WIDTH)), self.images.widget]),
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
                  self.cell_output, self.output, W.HTML(FORM_CSS)]
        return W.VBox(parts)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict):  # text/plain is what a saved notebook (or a non-widget frontend) shows
            bundle["text/plain"] = self._plain_text()
        return bundle

    def _plain_text(self) -> str:
        """What a saved notebook shows where the live form was: what it is and how it was set."""
        values = self._safe_values()
        shown = ", ".join(f"{k}={v!r}" for k, v in values.items()) or "the service defaults"
        return (f"dms_magic chat form (an interactive widget: run this cell in Jupyter to use it).\n"
                f"Parameters: {shown}")

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self._safe_values().items())
        return f"DmsChatForm({shown})"

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
        from dms_magic.wire.params import find

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
        return self.images.add_to(messages)

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
            from dms_magic.defaults import ENV_INSTANCE_ID

            where = {"config": "%dmschat config", "environment": ENV_INSTANCE_ID}.get(
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
        from dms_magic import session
        from dms_magic.notebook.display import StreamView
        from dms_magic.views.render import chat_result_html

        client, messages, params = self._prepare(stream=True)
        self._show_status("streaming ...")
        started = time.perf_counter()
        options = _magic_display_options()
        every = session.display_settings()["stream_update_interval"]
        last = 0.0
        # `with`, as the magic streams: an error mid-stream must not leave the connection open
        with client.stream(messages, **params) as chat_stream:
            view = StreamView(backend=getattr(chat_stream, "backend", None) or getattr(client, "backend", None),
                              model=params.get("model"), masked=bool(params.get("need_desensitization")),
                              display=False, request=getattr(chat_stream, "request", None))
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
        sent = images_tools.sent_images(messages)
        if sent:  # the magic's image section above it: thumbnails, and that images go as they are
            data = {**data, "text/html": images_tools.extras_html(images=sent) + data["text/html"],
                    "text/plain": images_tools.extras_text(images=sent) + "\n" + data["text/plain"]}
        self.output.outputs = ({"output_type": "display_data", "data": data, "metadata": metadata},)
        turns = sum(1 for m in self.history if m.get("role") == "assistant")
        history = (f" · conversation {esc(self.session_name)!s}: {turns} turn{'s' if turns != 1 else ''}"
                   if self.conversation.value else "")
        backend = getattr(result, "backend", None) or "?"
        masking = ""
        if getattr(result, "masked", False):  # how many values the local prediction masked (zero: a warning)
            from dms_magic.views.render import masking_summary_html

            masking = masking_summary_html(messages, getattr(result.request, "desensitization_rule", None))
        self._show_status(f"answered by {esc(backend)} in "
                          f"{time.perf_counter() - started:.2f} s{history}{masking}")

    def _show_status(self, text: str) -> None:
        """``text`` is HTML (callers escape what they did not write)."""
        self.status.value = f'<span style="color:var(--jp-ui-font-color1,currentColor)">{text}</span>'

    def _dependencies(self, _change: Any = None) -> None:
        """Parameters that need another one, handled the moment they change: top_logprobs turns
        logprobs on (or says why it cannot: logprobs set to off); masking on asks for a rule."""
        top, logprobs = self.rows.get("top_logprobs"), self.rows.get("logprobs")
        if top is not None and logprobs is not None:
            try:
                wanted, current = top.read(), logprobs.read()
            except InvalidParameterError:
                wanted, current = None, None  # the row shows its own message
            if wanted is not None and current is None:
                logprobs.write(True)
                logprobs.message.value = _note_span("turned on: top_logprobs needs logprobs")
            elif wanted is not None and current is False:
                top.show_error(NEEDS_LOGPROBS)
            else:
                if "logprobs" in top.error:  # the earlier refusal no longer holds: check afresh
                    top.check()
                if wanted is None and not logprobs.error:
                    logprobs.message.value = ""
        masking, rule = self.rows.get("need_desensitization"), self.rows.get("desensitization_rule")
        if masking is not None and rule is not None:
            try:
                on, named = masking.read(), rule.read()
            except InvalidParameterError:
                return
            if on and not named and not rule.error:
                rule.message.value = _note_span("masking is on: choose a rule category (e.g. UserInfo)")
            elif not rule.error:
                rule.message.value = ""

    def _is_second_click(self, button: str) -> bool:
        """Whether this click is the second half of a double click: the browser sent it within
        DOUBLE_CLICK_SECONDS of the last click on the same button that was acted on. The kernel
        handles the two clicks one after the other (the buttons' disabled state reaches the page
        too late to stop the second), so only the clicks' own send times tell them apart. Clicks
        from Python (``Button.click()``) carry no such time and are never ignored."""
        sent = _click_sent_at()
        if sent is None:
            return False
        last = self._last_click.get(button)
        if last is not None and 0 <= (sent - last).total_seconds() < DOUBLE_CLICK_SECONDS:
            return True  # (a triple click is still one: the time stays the first click's)
        self._last_click[button] = sent
        return False

    def _clicked(self, action: Callable[[], Any], *, attempt: bool = False, refused: str = "Not sent",
                 button: str = "") -> None:
        """A button press: run the action; errors become a message, never a traceback.

        ``attempt`` (Send, Stream, Compare): the previous answer and any copied cell are cleared
        first, so a refused or failed attempt never shows an answer that belongs to an earlier one. The buttons are
        disabled meanwhile and a double click acts once."""
        if self._is_second_click(button or getattr(action, "__name__", "")):
            return
        for each in self.buttons.values():
            each.disabled = True
        if attempt:
            self.output.outputs = ()
            self.result = None
            self._forget_copied_cell()
        try:
            action()
        except InvalidParameterError as err:
            self._show_status(_error_span(f"{refused}: {err}"))
        except Exception as err:  # API, settings and transport errors: one clear message in the output
            self._show_failure(err)
        finally:
            for each in self.buttons.values():
                each.disabled = False

    def _show_failure(self, err: Exception) -> None:
        """The status names the error's code (``Failed: InvalidParameter``); the output has the
        whole message, worded as the magic words it (``DmsError._line``: an error that came in an
        HTTP 200 reply is not labelled with that status, which would read as success)."""
        from dms_magic.notebook.display import redact

        code = getattr(err, "code", None) or type(err).__name__
        text = redact(str(err))  # the magic's line (a DmsError names its HTTP status only when >= 400)
        self._show_status(_error_span(f"Failed: {code}"))
        self.output.outputs = (_html_output(f'<div style="white-space:pre-wrap">{_error_span(text)}</div>',
                                            text),)

    def clear(self) -> None:
        """Empty the prompt, the output and the conversation history (parameters stay)."""
        self.prompt.value = ""
        self.prompt_message.value = ""
        self.images.clear()
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
        if self.images.files():  # a cell cannot hold uploaded bytes: say so rather than drop them
            raise InvalidParameterError("images", [name for name, _ in self.images.files()],
                                        "no uploaded images: a cell cannot hold them; save them to files and "
                                        "add --image PATH to the cell")
        if not self.prompt.value.strip():  # the magic refuses a cell with nothing to send
            err = InvalidParameterError("prompt", self.prompt.value, "a message to send (type it in the prompt box)")
            self.prompt_message.value = _error_span(err)
            raise err
        # The magic checks the request as the client does: a cell it would refuse is not written.
        checked = {k: v for k, v in params.items() if stream or not BY_NAME[k].sse_only}
        try:
            ChatRequest([{"role": "user", "content": self.prompt.value or "-"}], **checked).validate(
                stream=stream, require_instance=False)
        except InvalidParameterError as err:
            row = self.rows.get(err.param)
            if row is not None:
                row.show_error(str(err))
            raise
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
        (under the buttons, leaving the last result in place). ``to_magic()`` gives the text; a
        form the magic would refuse gives no cell (the message says what to fix)."""
        text = self.to_magic()
        inserted = _insert_cell_below(text)
        if inserted == "set_next_input":
            note = "The equivalent cell is inserted below (and shown here):"
        else:
            # A button click cannot reach JupyterLab's notebook (no page API, no reply payload):
            # the text is shown, and offered to the clipboard where the page lets a script do it.
            note = ("A button cannot insert a cell in this front end: the equivalent cell is shown below "
                    "(select and copy it; it may also be on your clipboard). To have it inserted, run "
                    "f.copy_as_cell() in a cell.")
        from IPython.display import HTML, Javascript

        self.cell_output.outputs = ()
        self.cell_output.append_display_data(HTML(
            f"<div>{esc(note)}</div><pre style='user-select:all;text-align:left'>{esc(text)}</pre>"))
        if inserted is None:
            self.cell_output.append_display_data(Javascript(_insert_cell_js(text)))
        self._show_status("copied as cell: inserted below" if inserted else "copied as cell: shown below")


_PLACEHOLDER = PLACEHOLDER


def _click_sent_at() -> Any:
    """When the browser sent the message being handled (a widget click's comm message), as a
    datetime; None outside a kernel or for a message without a date."""
    shell = _shell()
    parent = shell.get_parent() if shell is not None and hasattr(shell, "get_parent") else None
    header = (parent or {}).get("header") or {}
    if header.get("msg_type") != "comm_msg":
        return None
    sent = header.get("date")
    if isinstance(sent, str):
        from datetime import datetime

        try:
            sent = datetime.fromisoformat(sent.replace("Z", "+00:00"))
        except ValueError:
            return None
    return sent if hasattr(sent, "total_seconds") or hasattr(sent, "isoformat") else None


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
    """The card options from the session's settings (``%config DmsChatMagics.show_usage``,
    ``%dmschat config``, ``dms_magic.configure``), so both cards match."""
    from dms_magic import session

    shown = session.display_settings()
    return {"show_logprobs": shown["show_logprobs"], "show_usage": shown["show_usage"]}


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
