"""``%%dmschat`` and ``%dmschat``: a thin IPython layer over ``dms_magic.session``.

Every API parameter option is generated from ``dms_magic.wire.params.PARAMS`` (long option = kebab-case
of the Python name, plus the row's aliases); values are parsed with ``Param.from_text`` exactly as
the sandbox and the widget form parse them, or taken as Python objects with ``$variable``.

Errors a person can act on (a bad option, bad JSON, an out-of-range value, an API error) become
one ``UsageError``: IPython prints it as a single line and fails the cell, with no traceback.
"""
from __future__ import annotations

import re
import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, argument_group, kwds, magic_arguments
from traitlets import Bool, Float, Int, Unicode, observe
from traitlets.config.configurable import Configurable

from dms_magic.defaults import STREAM_REFRESH_SECONDS
from dms_magic.errors import InvalidParameterError
from dms_magic.notebook import images_tools  # --image, --tools, --run-tools (options in vocabulary)
from dms_magic.notebook.vocabulary import EXTRA_OPTIONS, LINE_COMMANDS, PLACEHOLDER
from dms_magic.wire.params import find, option_params


def _param_argument(param) -> argument:
    """One API parameter as an argparse option. Values stay text here; ``_parse_value`` converts
    them with the table (so `$var`, JSON and plain strings are handled in one place)."""
    names = [param.option, *param.aliases]
    shorts = [n for n in names if not n.startswith("--")]
    longs = [n for n in names if n.startswith("--")]
    help_text = f"{param.help} ({param.range_text()}; wire {param.wire})"
    if param.kind == "bool":
        # A bare flag means true; `--mask false` turns a configured default off.
        return argument(*shorts, *longs, dest=param.name, nargs="?", const="true", default=None,
                        metavar="BOOL", help=help_text)
    if param.kind == "choice":
        metavar = "{" + ",".join(param.choices) + "}"
    elif param.kind in ("json_object", "json_text", "str_list"):
        metavar = "JSON|$VAR"
    else:
        metavar = {"str": "TEXT", "int": "N", "float": "X"}.get(param.kind, param.kind.upper())
    return argument(*shorts, *longs, dest=param.name, default=None, metavar=metavar, help=help_text)


def _with_generated_arguments(func):
    """Apply argparse decorators for the extras and every PARAMS row (source order = help order)."""
    decorators = [argument_group("Cell options")]
    decorators += [argument(*names, **kwargs) for names, kwargs in EXTRA_OPTIONS]
    decorators.append(argument_group("API parameters (ChatWithDesensitize)"))
    decorators += [_param_argument(p) for p in option_params()]
    decorators.append(argument("line_command", nargs="*", help="Line magic: " + " | ".join(LINE_COMMANDS)))
    for deco in reversed(decorators):
        func = deco(func)
    # The epilog lists the rule categories (what --rule takes); named "%dmschat", the help's usage
    # line reads "%%dmschat [...]" (IPython's help formatter adds one "%").
    func = kwds(epilog=_rules_epilog())(func)
    func = magic_arguments("%dmschat")(func)
    func.parser.allow_abbrev = False  # `--top` must not silently mean --top-p or --top-k
    return func


def _rules_epilog() -> str:
    from dms_magic.masking import DEFAULT_RULE, rule_categories

    return (f"Rule categories for --rule (--desensitization-rule): {', '.join(rule_categories())} "
            f"(default {DEFAULT_RULE}). Tab completes options, sub-commands, rules and models.")


@magics_class
class DmsChatMagics(Magics, Configurable):
    """Chat with Alibaba Cloud DMS ChatWithDesensitize (LLM chat with data masking).

    Configure with ``%config DmsChatMagics.model = "qwen-plus"`` or ``%dmschat config model=qwen-plus``.
    """

    model = Unicode(None, allow_none=True, help="Default model for every request.").tag(config=True)
    instance_id = Int(None, allow_none=True, help="DMS instance id (else DMS_MAGIC_INSTANCE_ID).").tag(config=True)
    endpoint = Unicode(None, allow_none=True,
                       help="Endpoint host or URL, or 'sandbox' (else DMS_MAGIC_ENDPOINT).").tag(config=True)
    profile = Unicode(None, allow_none=True, help="Alibaba Cloud credentials profile.").tag(config=True)
    rule = Unicode(None, allow_none=True, help="Default masking rule category, e.g. UserInfo.").tag(config=True)
    mask = Bool(None, allow_none=True, help="Mask sensitive data by default.").tag(config=True)
    show_logprobs = Bool(True, help="Show the token-probability strip when logprobs were asked.").tag(config=True)
    show_usage = Bool(True, help="Show the token usage table.").tag(config=True)
    stream_update_interval = Float(STREAM_REFRESH_SECONDS, help="Seconds between display updates while streaming.").tag(config=True)
    interpolate = Bool(True, help="Replace {name} in cells with defined variables.").tag(config=True)

    shell: Any  # set by IPython when the magics are registered

    # trait -> session configuration key. The traits are a way in (`%config DmsChatMagics.x`): every
    # value lives in the session's one settings store, which the magic, the form and Python read.
    _SESSION_KEYS = {"model": "model", "instance_id": "instance_id", "endpoint": "endpoint", "profile": "profile",
                     "rule": "desensitization_rule", "mask": "need_desensitization"}
    _DISPLAY_TRAITS = ("show_logprobs", "show_usage", "stream_update_interval", "interpolate")

    def __init__(self, shell=None, **kwargs):
        super().__init__(shell=shell, **kwargs)
        self.histories: dict[str, list[dict]] = {}
        for trait in (*self._SESSION_KEYS, *self._DISPLAY_TRAITS):  # values a config file set before we existed
            if getattr(self, trait) != self.trait_defaults(trait):  # unset traits leave configure() values alone
                self._push(trait, getattr(self, trait))

    @observe(*_SESSION_KEYS, *_DISPLAY_TRAITS)
    def _trait_changed(self, change) -> None:
        self._push(change["name"], change["new"])

    def _push(self, trait: str, value: Any) -> None:
        from dms_magic import session

        session.configure(**{self._SESSION_KEYS.get(trait, trait): value})

    # -- the magic ------------------------------------------------------------------------------
    @no_var_expand  # $var and {name} are ours: $var gives a Python object, {name} only defined names
    @_with_generated_arguments
    @line_cell_magic
    def dmschat(self, line: str, cell: str | None = None):
        """%%dmschat [options]: the cell is the user message.

        %dmschat config [key=value ...] | status | history [NAME] | reset [NAME] | preview [--rule R] TEXT|$var | form
        (reset without NAME also drops cached clients, so new credentials take effect)."""
        try:
            if cell is None:
                return self._line(line)
            return self._cell(line, cell)
        except Exception as exc:
            from dms_magic.client.credentials import CredentialError
            from dms_magic.errors import DmsError
            from dms_magic.notebook.display import redact
            from dms_magic.session import SettingsError

            if isinstance(exc, InvalidParameterError):
                raise UsageError(redact(_parameter_message(exc))) from None
            # DmsError's str() is its one line: code, message, hint, RequestId
            if isinstance(exc, (UsageError, DmsError, CredentialError, SettingsError)):
                raise UsageError(redact(str(exc))) from None
            raise

    # -- cell -----------------------------------------------------------------------------------
    def _cell(self, line: str, cell: str):
        args = self._parse(line)
        if args.line_command:
            raise UsageError(f"unexpected {' '.join(args.line_command)!r} on the %%dmschat line: every option "
                             f"starts with - (see %%dmschat?); the prompt goes in the cell body")
        params = self._params(args)
        extras = images_tools.CellExtras.read(args, params, self.shell.user_ns)  # with tools: streams
        messages = extras.add_images(self._messages(args, cell))
        from dms_magic import session

        settings = session.resolve(args.endpoint, params.get("instance_id"), args.profile)
        if args.compare and not args.dry_run:  # two plain calls: compare merges the defaults itself
            return self._compare(args, settings, messages, params)
        params = session.request_params(settings, params)  # configured defaults; decides streaming
        streaming = bool(params.get("stream"))
        if args.dry_run:
            return self._dry_run(settings, messages, params, streaming, extras)
        client = session.client_for(settings)
        if extras.tools:  # the tool calls (and --run-tools rounds) are read whole, then shown in one card
            result, messages, loop, pending = extras.complete(client, messages, params)
        else:
            if streaming and not args.quiet and extras.images:  # the thumbnails above the growing card
                from dms_magic.notebook.display import show_html

                show_html(*extras.sections(messages=messages, params=params))
            result = self._stream(client, messages, params, args) if streaming else client.chat(messages, **params)
            loop, pending = None, []
        if args.session:
            history = self.histories.setdefault(args.session, [])
            history[:] = [*messages, {"role": "assistant", "content": result.text or ""}]
        if args.out:
            self.shell.user_ns[args.out] = result
        if not args.quiet and (extras.tools or not streaming):
            from dms_magic.notebook.display import bundle
            from IPython.display import display

            data, metadata = bundle(result, **self._display_options())
            html, text = extras.sections(messages=messages, params=params, loop=loop, pending=pending)
            if html:
                data = {**data, "text/html": html + data["text/html"], "text/plain": text + "\n" + data["text/plain"]}
            display(data, raw=True, metadata=metadata)
        return None

    def _display_options(self) -> dict[str, Any]:
        from dms_magic import session

        shown = session.display_settings()
        return {"show_logprobs": shown["show_logprobs"], "show_usage": shown["show_usage"]}

    def _stream(self, client, messages, params, args):
        from dms_magic.notebook.display import StreamView

        # `with`: an error or Ctrl-C mid-stream must not leave the connection open
        with client.stream(messages, **params) as stream:
            # The stream knows who answers (the sandbox says so in its reply): the card's badges
            # are right from the first frame.
            view = StreamView(backend=getattr(stream, "backend", None) or getattr(client, "backend", None),
                              model=params.get("model"), masked=bool(params.get("need_desensitization")),
                              display=not args.quiet, request=getattr(stream, "request", None),
                              every=_display("stream_update_interval"), **self._display_options())
            for chunk in stream:
                view.add(chunk)
            result = stream.result
        view.finish(result)
        return result

    def _compare(self, args, settings, messages, params):
        from dms_magic import session
        from dms_magic.comparison import compare

        comparison = compare(messages, client=session.client_for(settings), **params)
        if args.out:
            self.shell.user_ns[args.out] = comparison
        if not args.quiet:
            from IPython.display import display

            display(comparison)

    def _dry_run(self, settings, messages, params, streaming, extras=None):
        """``params``: as ``session.request_params`` merged them (``stream=True`` when streaming,
        as client.stream sends it)."""
        from dms_magic import session
        from dms_magic.masking import DEFAULT_RULE, mask
        from dms_magic.views import render
        from dms_magic.notebook.display import dry_run_html, estimate_prompt_tokens, show_html
        from dms_magic.defaults import ACTION, SSE_ACTION
        from dms_magic.wire.request import ChatRequest

        request = ChatRequest(messages, **params)
        query, form = request.to_wire(stream=streaming)  # validates: a bad value fails the dry run too
        rule = params.get("desensitization_rule") or DEFAULT_RULE
        try:
            previews = [mask(m["content"], rule) for m in images_tools.text_messages(messages)
                        if m.get("role") in ("user", "system")]
        except ValueError as exc:  # UnknownRuleError: the real service would reject it too
            raise UsageError(f"{_spelling('desensitization_rule')} {rule}: {exc}") from None
        endpoint = "in-process sandbox" if settings.uses_sandbox else (settings.endpoint or session.CENTRAL_ENDPOINT)
        action = SSE_ACTION if streaming else ACTION
        tokens = (estimate_prompt_tokens(images_tools.text_messages(messages))
                  + images_tools.image_prompt_tokens(messages, params))
        query, form = images_tools.shorten_data_urls(query), images_tools.shorten_data_urls(form)
        # Who would sign: the credential kind and masked key id only (status never holds a secret).
        info = session.status(settings.endpoint, instance_id=settings.instance_id, profile=settings.profile)
        signer = " ".join(str(v) for v in (info["credentials"], info["access_key_id"]) if v)
        text = (f"dry run, nothing sent: POST {endpoint} {action}\n"
                + "\n".join(f"{k}={v}" for k, v in {**query, **form}.items())
                + f"\nAuthorization: ACS3-HMAC-SHA256, signed by {signer}; signature computed when sent, never shown"
                + f"\n~{tokens} prompt tokens (local estimate)"
                + "".join(f"\n{render.mask_preview_text(p)}" for p in previews))
        html = dry_run_html(action=action, endpoint=endpoint, query=query, form=form, previews=previews,
                            prompt_tokens=tokens, signer=signer, masked=bool(params.get("need_desensitization")))
        if extras is not None and extras.images:  # thumbnails, and that images go as they are
            more_html, more_text = extras.sections(messages=messages, params=params, dry_run=True)
            html, text = html + more_html, text + "\n" + more_text
        show_html(html, text)

    # -- option parsing -------------------------------------------------------------------------
    def _parse(self, line: str):
        try:
            argv = shlex.split(line, posix=True)
        except ValueError as exc:
            raise UsageError(f"cannot read the %%dmschat options ({exc}): check the quotes; "
                             f"put JSON in single quotes, e.g. --stop '[\"\\n\"]'") from None
        try:
            return self.dmschat.parser.parse_args(argv)
        except UsageError as exc:
            raise UsageError(f"{exc}{_option_hint(argv)}; see %%dmschat? for every option") from None

    def _params(self, args) -> dict[str, Any]:
        """API parameters given on the line, as checked Python values."""
        params: dict[str, Any] = {}
        for param in option_params():
            text = getattr(args, param.name)
            if text is not None:
                params[param.name] = self._parse_value(param, text)
        return params

    def _parse_value(self, param, text: str) -> Any:
        if text.startswith("$") and re.fullmatch(r"\$[A-Za-z_]\w*", text):
            name = text[1:]
            if name not in self.shell.user_ns:
                raise UsageError(f"{param.option} {text}: variable {name!r} is not defined; define it in a cell "
                                 f"above or give the value directly")
            return param.coerce(self.shell.user_ns[name])
        try:
            return param.from_text(text)
        except InvalidParameterError as exc:
            raise UsageError(f"{param.option} {text!r} is invalid: expected {exc.expected}") from None

    def _messages(self, args, cell: str) -> list[dict]:
        """The conversation to send: session history, --messages, the system text, the cell."""
        from dms_magic.wire.params import BY_NAME

        text = cell.strip("\n")
        if text.strip() and _display("interpolate") and not args.no_interpolate:
            text = interpolate(text, self.shell.user_ns, getattr(self.shell, "user_ns_hidden", {}))
        messages: list[dict] = list(self.histories.get(args.session, [])) if args.session else []
        if args.messages:
            if args.messages not in self.shell.user_ns:
                raise UsageError(f"--messages {args.messages}: variable {args.messages!r} is not defined")
            try:
                messages += BY_NAME["messages"].coerce(self.shell.user_ns[args.messages])
            except InvalidParameterError as exc:
                raise UsageError(f"--messages {args.messages}: {exc}") from None
        if args.system is not None:
            messages = [m for m in messages if m.get("role") != "system"]
            messages.insert(0, {"role": "system", "content": args.system})
        if text.strip():
            messages.append({"role": "user", "content": text})
        if not any(m.get("role") == "user" for m in messages):
            raise UsageError("nothing to send: write the prompt in the cell below %%dmschat, or pass --messages VAR")
        return messages

    # -- line commands --------------------------------------------------------------------------
    def _line(self, line: str):
        command, _, rest = line.strip().partition(" ")
        rest = rest.strip()
        if command not in LINE_COMMANDS:
            raise UsageError(f"%dmschat {command or '(nothing)'}: expected one of {', '.join(LINE_COMMANDS)}; "
                             f"for a chat use the cell magic %%dmschat (see %dmschat?)")
        return getattr(self, "_cmd_" + command)(rest)

    def _cmd_config(self, rest: str):
        from dms_magic import session

        if not rest:
            from dms_magic.notebook.display import show_html

            configured = session.configured()
            values = {t: configured.get(key) for t, key in self._SESSION_KEYS.items()}
            values.update(session.display_settings())
            values.update({k: v for k, v in configured.items() if k not in self._SESSION_KEYS.values()})
            text = "\n".join(f"{k} = {v!r}" for k, v in values.items())
            from dms_magic.views.render import esc

            show_html(f"<pre>{esc(text)}</pre>", text)
            return None
        try:
            pairs = shlex.split(rest, posix=True)
        except ValueError as exc:
            raise UsageError(f"%dmschat config: cannot read {rest!r} ({exc}); write key=value") from None
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep:
                raise UsageError(f"%dmschat config {pair!r}: write key=value, e.g. model=qwen-plus")
            self._set_config(key.strip(), value.strip())
        return None

    def _set_config(self, key: str, value: str) -> None:
        from dms_magic import session

        trait = key.replace("-", "_").lstrip("_")
        if trait in self._SESSION_KEYS or trait in self._DISPLAY_TRAITS:
            if value == "":
                setattr(self, trait, self.trait_defaults(trait))
                self._push(trait, None)  # back to the default, wherever the value was set
                return
            try:
                parsed = _TRAIT_PARSERS.get(trait, str)(value)
                setattr(self, trait, parsed)
                self._push(trait, parsed)  # also when the trait already held it (configure() may differ)
            except (ValueError, TypeError) as exc:
                raise UsageError(f"%dmschat config {key}={value!r}: {exc}") from None
            return
        if trait in session.TRANSPORT_SETTINGS:  # timeout and retries: the client's, checked by session
            try:
                session.configure(**{trait: value or None})
            except ValueError as exc:
                raise UsageError(f"%dmschat config {key}={value!r}: {exc}") from None
            return
        try:
            param = find(key)
        except InvalidParameterError as exc:
            known = ", ".join((*self._SESSION_KEYS, *self._DISPLAY_TRAITS, *session.TRANSPORT_SETTINGS))
            hint = exc.expected.split(".", 1)[-1].strip()
            raise UsageError(f"%dmschat config: unknown key {key!r}{f' ({hint})' if hint else ''}; "
                             f"keys: {known}, or any request parameter") from None
        if param.name == "messages":
            raise UsageError("%dmschat config: messages cannot have a default; use --session or --messages")
        session.configure(**{param.name: None if value == "" else self._parse_value(param, value)})

    def _cmd_status(self, rest: str):
        from dms_magic import session
        from dms_magic.notebook.display import show_html, status_html, status_text

        info = session.status()
        info["sessions"] = {name: len(h) for name, h in self.histories.items()}
        show_html(status_html(info), status_text(info))

    def _cmd_history(self, rest: str):
        from dms_magic.notebook.display import history_html, history_text, show_html

        if rest:
            if rest not in self.histories:
                known = ", ".join(self.histories) or "none yet"
                raise UsageError(f"%dmschat history {rest}: no such session (sessions: {known}); "
                                 f"start one with %%dmschat --session {rest}")
            show_html(history_html(rest, self.histories[rest]), history_text(rest, self.histories[rest]))
            return None
        if not self.histories:
            show_html("<i>no sessions yet: use %%dmschat --session NAME</i>", "no sessions yet")
        for name, history in self.histories.items():
            show_html(history_html(name, history), history_text(name, history))
        return None

    def _cmd_reset(self, rest: str):
        if rest:
            if self.histories.pop(rest, None) is None:
                raise UsageError(f"%dmschat reset {rest}: no such session "
                                 f"(sessions: {', '.join(self.histories) or 'none'})")
        else:  # everything: histories, and cached clients (new keys or env settings take effect)
            from dms_magic import session

            self.histories.clear()
            session.forget_clients()
        return None

    def _cmd_preview(self, rest: str):
        from dms_magic import session
        from dms_magic.masking import DEFAULT_RULE, mask

        rule = session.request_defaults().get("desensitization_rule") or DEFAULT_RULE
        match = _RULE_OPTION.match(rest)
        if match:
            rule, rest = match.group(1), rest[match.end():]
        if not rest:
            raise UsageError("%dmschat preview TEXT|$var: give the text to preview (or $variable)")
        if re.fullmatch(r"\$[A-Za-z_]\w*", rest):
            if rest[1:] not in self.shell.user_ns:
                raise UsageError(f"%dmschat preview {rest}: variable {rest[1:]!r} is not defined")
            rest = str(self.shell.user_ns[rest[1:]])
        try:
            result = mask(rest, rule)
        except ValueError as exc:  # UnknownRuleError
            raise UsageError(f"%dmschat preview: {exc}") from None
        from dms_magic.notebook.display import show_mask_preview

        show_mask_preview(result)
        return None

    def _cmd_form(self, rest: str):
        from dms_magic.notebook.widgets import form

        shown = form()
        if shown is not None:
            from IPython.display import display

            display(shown)
        return None


# -- helpers ------------------------------------------------------------------------------------
def _display(key: str) -> Any:
    from dms_magic import session

    return session.display_settings()[key]


def _parse_bool(text: str) -> bool:
    return find("need_desensitization").from_text(text)  # the table's own true/false words


# How `%dmschat config key=value` reads a trait's text (others are plain strings).
_TRAIT_PARSERS: dict[str, Any] = {
    "instance_id": find("instance_id").from_text,
    "mask": _parse_bool,
    "show_logprobs": _parse_bool,
    "show_usage": _parse_bool,
    "interpolate": _parse_bool,
    "stream_update_interval": float,
}
_PLACEHOLDER = PLACEHOLDER


def interpolate(text: str, namespace: dict, hidden: dict | None = None) -> str:
    """Replace ``{name}`` by ``str(namespace[name])`` for defined, user-visible names only.

    Anything else stays as typed: JSON (``{"a": 1}``), code, ``{undefined}``, ``{{doubled}}`` and
    IPython's own names (In, Out, exit...).
    """
    hidden = hidden or {}

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name in namespace and (name not in hidden or namespace[name] is not hidden[name]):
            return str(namespace[name])
        return match.group(0)

    return _PLACEHOLDER.sub(replace, text)


def _option_hint(argv: list[str]) -> str:
    """' (did you mean --top-p?)' for a misspelt option."""
    import difflib

    from dms_magic.wire.params import option_params

    known = [n for p in option_params() for n in (p.option, *p.aliases)]
    known += [n for names, _ in EXTRA_OPTIONS for n in names]
    for word in argv:
        if word.startswith("-") and word.split("=", 1)[0] not in known:
            close = difflib.get_close_matches(word.split("=", 1)[0], known, n=1)
            if close:
                return f" (did you mean {close[0]}?)"
    return ""


def _spelling(name: str) -> str:
    """The shortest long-option spelling of a parameter (``--rule`` for desensitization_rule)."""
    param = find(name)
    return min((n for n in (param.option, *param.aliases) if n.startswith("--")), key=len)


# `%dmschat preview --rule R TEXT` (any long spelling of desensitization_rule)
_RULE_OPTION = re.compile("(?:" + "|".join(
    re.escape(n) for n in (find("desensitization_rule").option, *find("desensitization_rule").aliases)
    if n.startswith("--")) + r")[ =](\S+)\s*")


def _parameter_message(exc: InvalidParameterError) -> str:
    from dms_magic.masking import DEFAULT_RULE
    from dms_magic.wire.params import BY_NAME
    from dms_magic.session import ENV_INSTANCE_ID

    try:
        param = find(exc.param)
    except InvalidParameterError:  # not a table parameter (e.g. the prompt itself)
        return f"{exc}. To fix: fix the request."
    if param.sse_only and "only with streaming" in exc.expected:
        fix = f"add {_spelling('stream')}"
    elif param.name == "instance_id":
        fix = f"pass {_spelling('instance_id')} N, %dmschat config instance_id=N or set {ENV_INSTANCE_ID}"
    elif param.name == "desensitization_rule":
        fix = f"add {_spelling('desensitization_rule')} {DEFAULT_RULE} (or another rule category)"
    elif param.name == "top_logprobs":
        fix = f"add {BY_NAME['logprobs'].option}"
    else:
        fix = f"fix {_spelling(param.name)}"
    return f"{exc}. To fix: {fix}."


def load_ipython_extension(ipython) -> None:
    from dms_magic.notebook import completion

    magics = DmsChatMagics(shell=ipython, parent=ipython)
    ipython.register_magics(magics)
    if magics not in ipython.configurables:  # makes `%config DmsChatMagics` work
        ipython.configurables.append(magics)
    if getattr(ipython, "Completer", None) is not None:  # <Tab>: options, sub-commands, rules, models
        completion.register(ipython, sessions=lambda: list(magics.histories))


def unload_ipython_extension(ipython) -> None:
    from dms_magic.notebook import completion

    if getattr(ipython, "Completer", None) is not None:
        completion.unregister(ipython)
    ipython.configurables[:] = [c for c in ipython.configurables if not isinstance(c, DmsChatMagics)]
    manager = ipython.magics_manager
    for kind in ("line", "cell"):
        manager.magics[kind].pop("dmschat", None)
    manager.registry.pop("DmsChatMagics", None)
