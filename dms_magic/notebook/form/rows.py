"""One row per request parameter: a labelled control with its own message line.

Every row is generated from ``dms_magic.wire.params.PARAMS`` (kind, range, choices, group, help,
example); nothing here lists parameters by hand. A row reads the checked Python value (None when
unset: the parameter is not sent) or raises InvalidParameterError, the message the magic and the
client give. Labels are the magic's option names (``--top-logprobs``); the API name is in the tooltip.
"""
from __future__ import annotations

from typing import Any, Callable

import ipywidgets as W

from dms_magic.notebook.grammar import option_spelling
from dms_magic.notebook.vocabulary import KNOWN_MODELS
from dms_magic.views.styles import ERROR_STYLE, MUTED_STYLE, esc
from dms_magic.errors import InvalidParameterError
from dms_magic.wire.params import Param

LABEL_WIDTH = "13em"
CONTROL_WIDTH = "24em"
# An int slider with no upper bound in the table (top_k) spans this far; set() widens it for a larger
# valid value instead of clamping.
OPEN_SLIDER_SPAN = 100
# Ints with a bounded range this small are sliders (top_logprobs); wider ones (seed) are text fields.
SMALL_INT_SPAN = 100
FLOAT_STEP = 0.01
USED_HANDLE_COLOUR = "#1f6feb"
UNSET_TEXT = "default"  # what an unticked slider's readout says: nothing is sent
READOUT_WIDTH = "6em"


def error_span(text: Any) -> str:
    """A problem shown in the form: a light red chip with dark red text (readable in every theme),
    escaped (the only way error text reaches its HTML)."""
    return f'<span style="{ERROR_STYLE}">{esc(text)}</span>'


def note_span(text: Any) -> str:
    """A remark that is not a problem (e.g. "turned on: --top-logprobs needs it"), in the theme's colours."""
    return f'<span class="dms-form-note" style="{MUTED_STYLE}">{esc(text)}</span>'


# -- one control per parameter -------------------------------------------------------------------

def label_of(param: Param) -> str:
    """The magic's option name, the one a copied cell uses (``--mask``, ``--top-logprobs``)."""
    return option_spelling(param.name)


def _tooltip(param: Param) -> str:
    extra = " Used by Stream only." if param.sse_only else ""
    return f"{param.help} Valid: {param.range_text()}.{extra} (API: {param.name} / {param.wire})"


class _Row:
    """One labelled control with its own message area. ``read()`` gives the checked Python value
    (None when unset) or raises InvalidParameterError; ``write()`` shows a checked value."""

    def __init__(self, param: Param, control: W.Widget, label: W.Widget | None = None):
        self.param = param
        self.control = control
        self.label = label or W.Label(label_of(param), layout=W.Layout(width=LABEL_WIDTH))
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
        self.message.value = error_span(message) if message else ""

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
            control.placeholder = f"e.g. {shown_text(param, param.example)}"
        control.observe(self.check, names="value")

    def read(self) -> Any:
        text = (self.control.value or "").strip()
        if not text:
            return None
        return self.param.from_text(text)

    def write(self, value: Any) -> None:
        self.control.value = "" if value is None else shown_text(self.param, value)


class _ChoiceRow(_Row):
    """Booleans (default / on / off) and choices (default / each choice): one click, unset allowed."""

    DEFAULT = "default"

    def __init__(self, param: Param):
        if param.kind == "bool":
            self.values: dict[str, bool | str | None] = {self.DEFAULT: None, "on": True, "off": False}
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
        self.use = W.Checkbox(value=False, description=label_of(param), indent=False,
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


def shown_text(param: Param, value: Any) -> str:
    """A checked value as the text a person types into the field (parsed back by from_text)."""
    if param.kind in ("str", "json_text", "choice"):
        return str(value)
    if param.kind == "bool":
        return "true" if value else "false"
    return param.to_text(value)


def make_row(param: Param, suggestions: dict[str, Callable[[], list[str]]]) -> _Row:
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
    """The masking rule: checked as typed against the rules known here (``turn.check_rule``, as the
    magic checks ``--rule``), so a typo ("Userinfo") is flagged at once, with the close match."""

    def read(self) -> Any:
        from dms_magic.notebook.turn import check_rule

        value = super().read()
        check_rule(value)
        return value


def _rule_categories() -> list[str]:
    from dms_magic.notebook.turn import known_rules

    return known_rules()


# Where the comboboxes get their suggestions from (typing any other value is allowed).
SUGGESTIONS: dict[str, Callable[[], list[str]]] = {
    "model": lambda: list(KNOWN_MODELS),
    "desensitization_rule": _rule_categories,
}


