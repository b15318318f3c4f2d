"""The widget form: the same ChatWithDesensitize requests as ``%%dmschat``, built by clicking.

The form *is* its box (``DmsChatForm`` is a ``VBox``, as ipywidgets' ``interactive`` is): display it
and it shows. The first screen holds the prompt, masking (``--mask``, ``--rule``), the model and
Send / Stream / Compare, with the answer right under them; everything else is folded by group,
labelled with the magic's option names. A turn is ``notebook.turn`` (the magic's own), the
conversations and card options are the magic's ``turn.workspace()``, and "Copy as cell" is
``grammar.format`` of the form's values: a cell the magic accepts.

A control that is left unset sends nothing (the parameter is omitted, as the SDK omits None).
ipywidgets is imported here, never at ``import dms_magic`` time.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import ipywidgets as W

from dms_magic.defaults import ENV_INSTANCE_ID
from dms_magic.notebook import grammar, turn
from dms_magic.notebook.form.rows import (LABEL_WIDTH, SUGGESTIONS, InvalidParameterError, _Row, error_span,
                                          make_row, note_span, shown_text)
from dms_magic.notebook.form.uploads import ImageUpload
from dms_magic.views.styles import esc
from dms_magic.wire.params import BY_NAME, option_params
from dms_magic.wire.request import ChatRequest

SEND_COLOUR = "#0550ae"
# A click the browser sent within this long after the last one acted on is the second half of a
# double click: ignored, so a double click sends once.
DOUBLE_CLICK_SECONDS = 0.5
NEEDS_LOGPROBS = "--top-logprobs needs --logprobs: set --logprobs to on, or untick --top-logprobs"
# In the first screen, next to the prompt: masking and the model. The rest is folded by group.
FIRST_SCREEN = ("need_desensitization", "desensitization_rule", "model")
FOLDED_GROUPS = ("sampling", "output", "basic", "advanced")
GROUP_TITLES = {"sampling": "sampling", "output": "output", "basic": "instance", "advanced": "advanced"}
PROMPT_EXTRAS_TITLE = "system prompt, images, conversation"
DEFAULT_SESSION_NAME = "form"
UPLOAD_NOTE = ("uploaded images cannot be in a cell: save each one next to the notebook under the name shown "
               "(--image FILE), or pass --image $var holding its bytes")
# ipywidgets' folded-section title is the theme's secondary text on a grey bar (4.2-4.4:1); ours
# uses the primary text colour. (A widget's HTML is not sanitized, so a <style> works here.)
FORM_CSS = ("<style>.dms-chat-form .jupyter-widget-Collapse-header{color:var(--jp-ui-font-color1)}"
            "</style>")


def form(*, client: Any = None, session_name: str = DEFAULT_SESSION_NAME, **defaults: Any) -> "DmsChatForm":
    """A widget form for ChatWithDesensitize; display it in a notebook (it is a VBox).

    ``client``: a DmsChatClient; by default the same client the magic uses
    (``dms_magic.session.default_client()``), looked up at send time so config changes apply.
    ``defaults``: initial values, ``prompt=``, ``system=``, ``conversation=`` and Python parameter
    names; they override the session configuration.
    ``session_name``: the conversation's name, shared with ``%%dmschat --session`` (conversation mode).
    """
    return DmsChatForm(client=client, session_name=session_name, **defaults)


# -- the form -------------------------------------------------------------------------------------

class DmsChatForm(W.VBox):
    """The form: a VBox; everything a click does is a method too (``send``, ``stream``, ``compare``,
    ``copy_as_cell``, ``clear``)."""

    def __init__(self, *, client: Any = None, session_name: str = DEFAULT_SESSION_NAME, **defaults: Any):
        super().__init__()
        self._client = client
        self.result: Any = None
        self.session_name = session_name
        self._own_history: list[dict] = []
        self.rows: dict[str, _Row] = {
            p.name: make_row(p, SUGGESTIONS) for p in option_params() if p.name != "stream"
        }
        # "stream" is not a control: the Stream button is.
        self.prompt = W.Textarea(placeholder="Your message (e.g. 我叫张伟，手机号13812345678，请帮我写一封投诉信。)",
                                 rows=3, layout=W.Layout(width="48em"))
        self.prompt_message = W.HTML("")
        self.system = W.Textarea(placeholder="Optional system prompt", rows=2, layout=W.Layout(width="48em"))
        self.images = ImageUpload()  # added to the prompt; thumbnails; sent as they are (not masked)
        self.conversation = W.Checkbox(value=False, description="conversation (keep history across sends)",
                                       indent=False)
        # Theme button styles (info, warning) put white text on light colours (2.7:1); ours are the
        # theme's default buttons, and Send a dark blue with white text (7:1) in every theme.
        self.buttons = {
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
        self.children = self._layout()
        self.add_class("dms-chat-form")

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
    def _layout(self) -> list[W.Widget]:
        """First screen: prompt; masking and model; the buttons and the status; the answer. Then the
        folded groups (a group the table gains later lands in "advanced")."""
        first = [self.rows[name].box for name in FIRST_SCREEN if name in self.rows]
        extras = W.VBox([W.HBox([W.Label("--system", layout=W.Layout(width=LABEL_WIDTH)), self.system]),
                         W.HBox([W.Label("--image", layout=W.Layout(width=LABEL_WIDTH)), self.images.widget]),
                         self.conversation])
        groups: dict[str, list[W.Widget]] = {g: [] for g in FOLDED_GROUPS}
        for name, row in self.rows.items():
            if name not in FIRST_SCREEN:
                group = row.param.group if row.param.group in groups else "advanced"
                groups[group].append(row.box)
        folded = [(PROMPT_EXTRAS_TITLE, extras)] + [(GROUP_TITLES[g], W.VBox(rows)) for g, rows in groups.items()
                                                   if rows]
        self.advanced = W.Accordion(children=[box for _title, box in folded],
                                    titles=tuple(title for title, _box in folded))
        self.advanced.selected_index = None  # folded
        self.advanced.add_class("dms-form-folded")
        return [W.HBox([self.prompt, self.prompt_message]), *first,
                W.HBox(list(self.buttons.values())), self.status, self.output, self.cell_output,
                self.advanced, W.HTML(FORM_CSS)]

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
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
            self.prompt_message.value = error_span(err)
            raise err
        self.prompt_message.value = ""
        messages = list(self.history) if self.conversation.value else []
        if self.system.value.strip():
            messages = [m for m in messages if m.get("role") != "system"]
            messages.insert(0, {"role": "system", "content": self.system.value})
        messages.append({"role": "user", "content": prompt})
        return self.images.add_to(messages)

    # conversation history: the workspace's, shared with `%%dmschat --session <session_name>` (so
    # `%dmschat history form` shows it and a copied cell continues it).
    @property
    def history(self) -> list[dict]:
        return list(turn.workspace().histories.get(self.session_name, []))

    @history.setter
    def history(self, messages: list[dict]) -> None:
        store = turn.workspace().histories
        if messages:
            store[self.session_name] = list(messages)
        else:
            store.pop(self.session_name, None)

    def _turn(self, *, stream: bool) -> tuple[turn.Turn, Any, dict[str, Any]]:
        """The turn, its client and the parameters it sends, resolved exactly as ``%%dmschat``
        resolves them (``turn.prepare``: configured defaults fill what the form leaves unset; the
        rule checked) and checked like the client checks them. Raises ValueError (shown next to
        the control) instead of sending."""
        params = self.values()
        if not stream:  # SSE-only controls (include_usage) belong to the Stream button
            params = {k: v for k, v in params.items() if not BY_NAME[k].sse_only}
        messages = self.messages()
        chat = turn.Turn(messages=messages, params=params, client=self._client, stream=stream,
                         images=self.images.parts(), image_names=self.images.names(),
                         session=self.session_name if self.conversation.value else None)
        try:
            client, _settings, merged = turn.prepare(chat)
            ChatRequest(messages, **merged).validate(
                stream=stream, require_instance=getattr(client, "instance_id", None) is None)
        except InvalidParameterError as err:
            row = self.rows.get(err.param)
            if row is not None:
                row.show_error(str(err))
            raise
        return chat, client, merged

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
            where = {"config": "%dmschat config", "environment": ENV_INSTANCE_ID}.get(
                source, "the sandbox's" if "sandbox" in source else source)
        if instance is not None:
            control.placeholder = f"default: {instance} ({where})"
        else:
            control.placeholder = "required: the DMS instance id"

    # -- actions -------------------------------------------------------------------------------
    def send(self, *args: Any, **kwargs: Any) -> Any:
        """Send the form's request; show the result card; return the ChatResult.

        (Called with arguments it is the widget's own ``send(content, buffers)``: a custom comm
        message, as ``focus()`` sends; the form is a VBox.)"""
        if args or kwargs:
            return W.VBox.send(self, *args, **kwargs)
        return self._run(stream=False)

    def stream(self) -> Any:
        """Stream the answer into the output area as it arrives; return the final ChatResult."""
        return self._run(stream=True)

    def _run(self, *, stream: bool) -> Any:
        chat, client, params = self._turn(stream=stream)
        self._show_status("streaming …" if stream else "sending …")
        started = time.perf_counter()
        outcome = turn.run(chat, turn.OutputSurface(self.output), client=client, params=params)
        self.result = outcome.result
        elapsed = time.perf_counter() - started
        if outcome.partial:  # Ctrl-C or a break-off: the partial answer stays, and says so
            self._show_status(error_span(f"{outcome.state} after {elapsed:.2f} s: partial answer "
                                         f"({len(outcome.result.text or '')} characters) in .result"))
            return outcome.result
        turns = sum(1 for m in self.history if m.get("role") == "assistant")
        history = (f" · conversation {esc(self.session_name)!s}: {turns} turn{'s' if turns != 1 else ''}"
                   if self.conversation.value else "")
        backend = getattr(outcome.result, "backend", None) or "?"
        # (what was masked is in the card: not repeated here)
        self._show_status(f"answered by {esc(backend)} in {elapsed:.2f} s{history}")
        return outcome.result

    def compare(self) -> Any:
        """Send the prompt masked and unmasked; show the comparison; return the Comparison."""
        chat, client, _params = self._turn(stream=False)
        from dms_magic.comparison import compare

        self._show_status("comparing …")
        started = time.perf_counter()
        comparison = compare(chat.messages, client=client, **chat.params)
        self.result = comparison
        self.output.outputs = ()
        self.output.append_display_data(comparison)
        self._show_status(f"compared in {time.perf_counter() - started:.2f} s")
        return comparison

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
                logprobs.message.value = note_span("turned on: --top-logprobs needs it")
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
                rule.message.value = note_span("masking is on: choose a --rule (e.g. UserInfo)")
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
        for widget in self.buttons.values():
            widget.disabled = True
        if attempt:
            self.output.outputs = ()
            self.result = None
            self._forget_copied_cell()
        try:
            action()
        except InvalidParameterError as err:
            self._show_status(error_span(f"{refused}: {err}"))
        except Exception as err:  # API, settings and transport errors: one clear message in the output
            self._show_failure(err)
        finally:
            for widget in self.buttons.values():
                widget.disabled = False

    def _show_failure(self, err: Exception) -> None:
        """The status names the error's code (``Failed: InvalidParameter``); the output has the
        whole message, worded as the magic words it (``DmsError._line``: an error that came in an
        HTTP 200 reply is not labelled with that status, which would read as success)."""
        from dms_magic.notebook.display import redact

        code = getattr(err, "code", None) or type(err).__name__
        text = redact(str(err))  # the magic's line (a DmsError names its HTTP status only when >= 400)
        self._show_status(error_span(f"Failed: {code}"))
        self.output.outputs = (_html_output(f'<div style="white-space:pre-wrap">{error_span(text)}</div>',
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
    def cell_args(self, *, stream: bool = False, compare: bool = False) -> grammar.ChatCell:
        """The form as the magic's arguments (``grammar.ChatCell``); ``grammar.format`` of it is
        the cell. Raises InvalidParameterError when the magic would refuse it."""
        params = self.values()
        if not self.prompt.value.strip():  # the magic refuses a cell with nothing to send
            err = InvalidParameterError("prompt", self.prompt.value, "a message to send (type it in the prompt box)")
            self.prompt_message.value = error_span("the prompt is empty: type the message to send")
            raise err
        # The magic checks the request as the client does: a cell it would refuse is not written.
        checked = {k: v for k, v in params.items() if stream or not BY_NAME[k].sse_only}
        try:
            turn.check_rule(checked.get("desensitization_rule"))
            ChatRequest([{"role": "user", "content": self.prompt.value}], **checked).validate(
                stream=stream, require_instance=False)
        except InvalidParameterError as err:
            row = self.rows.get(err.param)
            if row is not None:
                row.show_error(str(err))
            raise
        if stream:
            checked["stream"] = True
        texts = {name: shown_text(BY_NAME[name], value) for name, value in checked.items()}
        return grammar.ChatCell(
            params=texts, compare=compare, session=self.session_name if self.conversation.value else None,
            system=self.system.value if self.system.value.strip() else None,
            no_interpolate=bool(grammar.PLACEHOLDER.search(self.prompt.value)),  # the magic would substitute {name}
            image=tuple(name for name, _data in self.images.files()), body=self.prompt.value)

    def to_magic(self, *, stream: bool = False, compare: bool = False) -> str:
        """The equivalent ``%%dmschat`` cell (``grammar.format(self.cell_args())``). Uploaded images
        are written as ``--image FILE``: save them under those names (``copy_as_cell`` says so).
        The cell uses the magic's default client; a ``client=`` given to the form has no spelling.
        Raises ValueError for a system prompt with line breaks (an option line cannot hold one)."""
        return grammar.format(self.cell_args(stream=stream, compare=compare))

    def copy_as_cell(self) -> str:
        """Put the equivalent ``%%dmschat`` cell below where the frontend allows; always show it
        under the buttons (the last answer stays); return its text. A form the magic would refuse
        gives no cell (the message says what to fix)."""
        text = self.to_magic()
        inserted = _insert_cell_below(text)
        if inserted == "set_next_input":
            note = "The equivalent cell is inserted below (and shown here):"
        else:
            # A button click cannot reach JupyterLab's notebook through the kernel: the page script
            # below inserts it where the page allows, else it is shown here to copy.
            note = "The equivalent cell (select and copy it; it may also be inserted below or on your clipboard):"
        if self.images.files():
            note += " Note: " + UPLOAD_NOTE + "."
        from IPython.display import HTML, Javascript

        self.cell_output.outputs = ()
        self.cell_output.append_display_data(HTML(
            f"<div>{esc(note)}</div><pre style='user-select:all;text-align:left'>{esc(text)}</pre>"))
        if inserted is None:
            self.cell_output.append_display_data(Javascript(_insert_cell_js(text)))
        self._show_status("copied as cell: inserted below" if inserted else "copied as cell: shown below")
        return text




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
