"""``%%dmschat`` and ``%dmschat``: a thin IPython layer over ``dms_magic.session``.

Every API parameter option is generated from ``dms_magic.wire.params.PARAMS`` (long option = kebab-case
of the Python name, plus the row's aliases); values are parsed with ``Param.from_text`` exactly as
the sandbox and the widget form parse them, or taken as Python objects with ``$variable``.

Errors a person can act on (a bad option, bad JSON, an out-of-range value, an API error) become
one ``UsageError``: IPython prints it as a single line and fails the cell, with no traceback.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from traitlets import Bool, Float, Int, Unicode, observe
from traitlets.config.configurable import Configurable

from dms_magic.defaults import STREAM_REFRESH_SECONDS
from dms_magic.notebook import grammar, images_tools, turn  # images_tools: --image, --tools, --run-tools
from dms_magic.notebook.grammar import option_spelling as _spelling
from dms_magic.errors import InvalidParameterError
from dms_magic.wire.params import find

from dms_magic.notebook.vocabulary import DEFAULT_SESSION  # noqa: E402,F401  (the session name offered by Tab)


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
        # What the form shares with the magic (histories): one public object, made first because
        # loading the config notifies the trait observers.
        self.workspace = turn.use(turn.Workspace())
        super().__init__(shell=shell, **kwargs)
        for trait in (*self._SESSION_KEYS, *self._DISPLAY_TRAITS):  # values a config file set before we existed
            if getattr(self, trait) != self.trait_defaults(trait):  # unset traits leave configure() values alone
                self._push(trait, getattr(self, trait))

    @property
    def histories(self) -> dict[str, list[dict]]:
        return self.workspace.histories

    @observe(*_SESSION_KEYS, *_DISPLAY_TRAITS)
    def _trait_changed(self, change) -> None:
        self._push(change["name"], change["new"])

    def _push(self, trait: str, value: Any) -> None:
        from dms_magic import session

        session.configure(**{self._SESSION_KEYS.get(trait, trait): value})

    # -- the magic ------------------------------------------------------------------------------
    @no_var_expand  # $var and {name} are ours: $var gives a Python object, {name} only defined names
    @grammar.arguments
    @line_cell_magic
    def dmschat(self, line: str, cell: str | None = None):
        """%%dmschat [options]: the cell is the user message.

        %dmschat config [key=value ...] | status | history [NAME] | reset [NAME] | preview [--rule R] TEXT|$var | form
        (reset without NAME also drops cached clients, so new credentials take effect)."""
        failure: BaseException | None = None
        try:
            args = grammar.parse(line, cell)
            if isinstance(args, grammar.ChatCell):
                return self._cell(args)
            return self._line(args)
        except InvalidParameterError as exc:  # a value the user typed (or configured): their words
            from dms_magic.notebook.display import redact

            failure = UsageError(redact(_parameter_message(exc)))
        except UsageError as exc:
            from dms_magic.notebook.display import redact

            failure = UsageError(redact(str(exc)))
        except Exception as exc:
            from dms_magic.client.credentials import CredentialError
            from dms_magic.errors import DmsError
            from dms_magic.session import SettingsError

            if isinstance(exc, DmsError):  # a service or connection failure: its own one line, not "UsageError"
                failure = exc.with_traceback(None)
            elif isinstance(exc, (CredentialError, SettingsError)):  # the user's setup: a usage problem
                from dms_magic.notebook.display import redact

                failure = UsageError(redact(str(exc)))
            else:
                raise
        raise failure from None  # outside the except block: no frame of the failure is kept

    # -- cell -----------------------------------------------------------------------------------
    def _cell(self, args: grammar.ChatCell):
        _check_out_name(args.out)
        params = self._params(args)
        extras = images_tools.CellExtras.read(args, params, self.shell.user_ns)  # with tools: streams
        messages = extras.add_images(self._messages(args, args.body))
        chat = turn.Turn(messages=messages, params=params, endpoint=args.endpoint, profile=args.profile,
                         images=extras.images, image_names=extras.image_names, tools=extras.tools, functions=extras.functions,
                         run_tools=extras.run_tools, session=args.session)
        # configured defaults; decides streaming; checks --rule before anything is sent
        client, settings, params = turn.prepare(chat, connect=not args.dry_run)
        _note_a_misspelt_model(params.get("model"))
        if args.compare and not args.dry_run:  # two plain calls: compare merges the defaults itself
            return self._compare(args, client, messages, {k: v for k, v in chat.params.items()})
        if args.dry_run:
            return self._dry_run(settings, messages, params, bool(params.get("stream")), extras)
        if args.quiet and not args.out:
            self._warn_quiet_once()
        outcome = turn.run(chat, turn.PageSurface(enabled=not args.quiet), ws=self.workspace,
                           client=client, params=params)
        if args.out:
            self.shell.user_ns[args.out] = outcome.result  # a partial result too: never the previous answer
        elif args.quiet:
            self.shell.user_ns["_"] = outcome.result
        if outcome.partial:
            raise turn.TurnEnded(outcome.line(args.out), outcome.result, outcome.state)
        return None

    def _warn_quiet_once(self) -> None:
        """``--quiet`` without ``-o``: allowed (a history or a side effect may be all one wants), but
        said once, so an answer is not thrown away unknowingly."""
        if self.workspace.quiet_warned:
            return
        self.workspace.quiet_warned = True
        import sys

        print("--quiet without -o: the answer is not shown; it is kept only in _ (and in the history with "
              "--session). Add -o NAME to keep it in a variable.", file=sys.stderr)

    def _display_options(self) -> dict[str, Any]:
        return self.workspace.display_options()

    def _compare(self, args, client, messages, params):
        from dms_magic.comparison import compare

        comparison = compare(messages, client=client, **params)
        if args.out:
            self.shell.user_ns[args.out] = comparison
        if not args.quiet:
            from IPython.display import display

            display(comparison)

    def _dry_run(self, settings, messages, params, streaming, extras=None):
        """``params``: as ``session.request_params`` merged them (``stream=True`` when streaming,
        as client.stream sends it)."""
        from dms_magic import session
        from dms_magic.masking import DEFAULT_RULE, mask_messages
        from dms_magic.views.prediction import preview_text
        from dms_magic.notebook.display import dry_run_html, estimate_prompt_tokens, show_html
        from dms_magic.defaults import ACTION, SSE_ACTION
        from dms_magic.wire.request import ChatRequest

        request = ChatRequest(messages, **params)
        query, form = request.to_wire(stream=streaming)  # validates: a bad value fails the dry run too
        rule = params.get("desensitization_rule") or DEFAULT_RULE
        try:
            # all the messages masked together, as the service masks a request (a name found in one
            # message is masked where another mentions it); the user's and system's are shown
            texts = images_tools.text_messages(messages)
            masked = mask_messages([{"role": m.get("role"), "content": m["content"]} for m in texts], rule)
            previews = [r for m, r in zip(texts, masked.results) if m.get("role") in ("user", "system")]
        except ValueError:  # a rule declared for the service only (prepare refused unknown ones)
            previews = [f"no local preview: {rule} is a rule only the service knows (masking config)"]
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
                + "".join(f"\n{p if isinstance(p, str) else preview_text(p)}" for p in previews))
        html = dry_run_html(action=action, endpoint=endpoint, query=query, form=form, previews=previews,
                            prompt_tokens=tokens, signer=signer, masked=bool(params.get("need_desensitization")))
        if extras is not None and extras.images:  # thumbnails, and that images go as they are
            more_html, more_text = extras.sections(messages=messages, params=params, dry_run=True)
            html, text = more_html + html, more_text + "\n" + text  # before the card, as on a send
        show_html(html, text)

    # -- option parsing -------------------------------------------------------------------------
    def _params(self, args) -> dict[str, Any]:
        """API parameters given on the line, as checked Python values."""
        return {name: self._parse_value(find(name), text) for name, text in args.params.items()}

    def _parse_value(self, param, text: str) -> Any:
        if text.startswith("$") and re.fullmatch(r"\$[A-Za-z_]\w*", text):
            name = text[1:]
            if name not in self.shell.user_ns:
                raise UsageError(f"{_spelling(param.name)} {text}: variable {name!r} is not defined; define it in a cell "
                                 f"above or give the value directly")
            return param.coerce(self.shell.user_ns[name])
        try:
            return param.from_text(text)
        except InvalidParameterError as exc:
            raise UsageError(f"{_spelling(param.name)} {text!r} is invalid: expected {exc.expected}") from None

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
    def _line(self, args: grammar.LineCommand):
        handlers: dict[type, Callable[[Any], Any]] = {
            grammar.ConfigCommand: self._cmd_config, grammar.StatusCommand: self._cmd_status,
            grammar.HistoryCommand: self._cmd_history, grammar.ResetCommand: self._cmd_reset,
            grammar.PreviewCommand: self._cmd_preview, grammar.FormCommand: self._cmd_form}
        return handlers[type(args)](args)

    def _cmd_config(self, args: grammar.ConfigCommand):
        from dms_magic import session

        if not args.pairs:
            from dms_magic.notebook.display import show_html

            configured = session.configured()
            values = {t: configured.get(key) for t, key in self._SESSION_KEYS.items()}
            values.update(session.display_settings())
            values.update({k: v for k, v in configured.items() if k not in self._SESSION_KEYS.values()})
            text = "\n".join(f"{k} = {v!r}" for k, v in values.items())
            from dms_magic.views.styles import esc

            show_html(f"<pre>{esc(text)}</pre>", text)
            return None
        for key, value in args.pairs:
            self._set_config(key, value)
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

    def _cmd_status(self, _args: grammar.StatusCommand):
        from dms_magic import session
        from dms_magic.notebook.display import show_html, status_html, status_text

        info = session.status()
        info["sessions"] = {name: len(h) for name, h in self.histories.items()}
        show_html(status_html(info), status_text(info))

    def _cmd_history(self, args: grammar.HistoryCommand):
        from dms_magic.notebook.display import history_html, history_text, show_html

        rest = args.name

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

    def _cmd_reset(self, args: grammar.ResetCommand):
        rest = args.name
        if rest:
            if self.histories.pop(rest, None) is None:
                raise UsageError(f"%dmschat reset {rest}: no such session "
                                 f"(sessions: {', '.join(self.histories) or 'none'})")
        else:  # everything: histories, and cached clients (new keys or env settings take effect)
            from dms_magic import session

            self.histories.clear()
            session.forget_clients()
        return None

    def _cmd_preview(self, args: grammar.PreviewCommand):
        from dms_magic import session
        from dms_magic.masking import DEFAULT_RULE, mask

        rule = args.rule or session.request_defaults().get("desensitization_rule") or DEFAULT_RULE
        rest = args.text
        if not rest:
            raise UsageError("%dmschat preview TEXT|$var: give the text to preview (or $variable)")
        if re.fullmatch(r"\$[A-Za-z_]\w*", rest):
            if rest[1:] not in self.shell.user_ns:
                raise UsageError(f"%dmschat preview {rest}: variable {rest[1:]!r} is not defined")
            rest = str(self.shell.user_ns[rest[1:]])
        try:
            result = mask(rest, rule)
        except ValueError as exc:  # UnknownRuleError
            raise UsageError(f"%dmschat preview --rule {rule}: {exc}") from None
        from dms_magic.notebook.display import show_mask_preview

        show_mask_preview(result)
        return None

    def _cmd_form(self, _args: grammar.FormCommand):
        from dms_magic.notebook.form import form

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


def interpolate(text: str, namespace: dict, hidden: dict | None = None) -> str:
    """Replace ``{name}`` by ``str(namespace[name])`` for defined, user-visible names only.

    Anything else stays as typed: JSON (``{"a": 1}``), code, ``{undefined}``, ``{{doubled}}`` and
    IPython's own names (In, Out, exit...).
    """
    hidden = hidden or {}

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name in namespace and (name not in hidden or namespace[name] is not hidden[name]):
            try:
                return str(namespace[name])
            except Exception as exc:  # the user's object: its failure is a one-line error, not a traceback
                raise UsageError(f"{{{name}}} in the cell: str({name}) raised {type(exc).__name__}; fix its "
                                 "__str__, or add --no-interpolate to send the cell as typed") from None
        return match.group(0)

    return grammar.PLACEHOLDER.sub(replace, text)


def _note_a_misspelt_model(model: Any) -> None:
    """``-m qwen-plux``: a one-line note with the known model it is close to. Not refused: the service
    adds models faster than any list here, and it refuses an unknown one itself."""
    import difflib
    import sys

    from dms_magic.notebook.vocabulary import KNOWN_MODELS

    if not isinstance(model, str) or model in KNOWN_MODELS:
        return
    close = difflib.get_close_matches(model, KNOWN_MODELS, n=1, cutoff=0.85)
    if close:
        print(f"note: model {model!r} is not one dms_magic knows (did you mean {close[0]}?); it is sent as given",
              file=sys.stderr)


def _check_out_name(name: str | None) -> None:
    """``-o NAME`` must be a plain variable name: ``a b`` could never be read back, and a dunder such
    as ``__builtins__`` would break the namespace itself (``len()`` failing in every later cell)."""
    import keyword

    if name is None:
        return
    if not name.isidentifier() or keyword.iskeyword(name) or (name.startswith("__") and name.endswith("__")):
        raise UsageError(f"-o/--out {name!r} is not a usable variable name: give a Python identifier such as "
                         "result (not a keyword, not a __dunder__ name)")


def _parameter_message(exc: InvalidParameterError) -> str:
    """The refusal in the words the user typed: ``--rule 'UserInf' is invalid ...``, ``the prompt
    is empty``, never ``desensitization_rule=None is invalid``."""
    from dms_magic.masking import DEFAULT_RULE
    from dms_magic.session import ENV_INSTANCE_ID
    from dms_magic.wire.values import safe_repr, shorten

    try:
        param = find(exc.param)
    except InvalidParameterError:  # not a table parameter (e.g. the prompt itself)
        if exc.param in ("prompt", "messages"):
            return "the prompt is empty: write it in the cell below %%dmschat (or pass --messages VAR)"
        return f"{exc}"
    spelled = _spelling(param.name)
    what = (f"{spelled} is missing" if exc.value is None
            else f"{spelled} {shorten(safe_repr(exc.value))} is invalid")
    if param.sse_only and "only with streaming" in exc.expected:
        fix = f"add {_spelling('stream')}"
    elif param.name == "instance_id":
        fix = f"pass {spelled} N, %dmschat config instance_id=N or set {ENV_INSTANCE_ID}"
    elif param.name == "desensitization_rule" and exc.value is None:
        fix = f"add {spelled} {DEFAULT_RULE} (or another rule category)"
    elif param.name == "top_logprobs":
        fix = f"add {_spelling('logprobs')}"
    else:  # what is expected already says what to write ("To fix: fix --rule" told nobody anything)
        return f"{what}: expected {exc.expected.rstrip('.')}."
    return f"{what}: expected {exc.expected.rstrip('.')}. To fix: {fix}."


def load_ipython_extension(ipython) -> None:
    from dms_magic.notebook import cellsize, completion

    cellsize.register(ipython)  # a cell too large to send is refused before IPython parses it

    magics = DmsChatMagics(shell=ipython, parent=ipython)
    ipython.register_magics(magics)
    if magics not in ipython.configurables:  # makes `%config DmsChatMagics` work
        ipython.configurables.append(magics)
    if getattr(ipython, "Completer", None) is not None:  # <Tab>: options, sub-commands, rules, models
        completion.register(ipython, sessions=lambda: list(magics.histories))


def unload_ipython_extension(ipython) -> None:
    from dms_magic.notebook import cellsize, completion

    cellsize.unregister(ipython)

    if getattr(ipython, "Completer", None) is not None:
        completion.unregister(ipython)
    ipython.configurables[:] = [c for c in ipython.configurables if not isinstance(c, DmsChatMagics)]
    manager = ipython.magics_manager
    for kind in ("line", "cell"):
        manager.magics[kind].pop("dmschat", None)
    manager.registry.pop("DmsChatMagics", None)
