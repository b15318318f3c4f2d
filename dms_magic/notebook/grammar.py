"""The ``%%dmschat`` / ``%dmschat`` grammar apart from the magic: parse a line into one typed
arguments object per sub-command, and ``format`` such an object back into the line (and cell) the
magic accepts. ``parse(format(a)) == a`` (a property test holds it), so the form's "Copy as cell"
is ``format(args)``, never a second hand-written inverse of the parser.

Values stay text here, exactly as typed (``--temperature 0.7`` is ``params["temperature"] ==
"0.7"``; ``$var`` stays ``"$var"``): turning them into Python values needs the user namespace and
the parameter table, which is the turn's job (``notebook.turn``).

The option spellings come from the parameter table (``wire.params``) and ``vocabulary``; the magic
is decorated with ``arguments`` so ``%dmschat?`` documents the same parser this module uses.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field, fields
from typing import Any, Union

from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument, argument_group, kwds, magic_arguments

from dms_magic.notebook.vocabulary import EXTRA_OPTIONS, LINE_COMMANDS
from dms_magic.wire.params import find, option_params

MAGIC = "%%dmschat"
# `{name}` in a cell body: replaced by the variable's value (unless --no-interpolate); `{{x}}` is not.
PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_]\w*)\}(?!\})")


# -- the arguments objects -----------------------------------------------------------------------
@dataclass(frozen=True)
class ChatCell:
    """``%%dmschat [options]`` + the cell body: one chat turn."""

    params: dict[str, str] = field(default_factory=dict)  # API parameter (Python name) -> text as typed
    out: str | None = None
    quiet: bool = False
    system: str | None = None
    session: str | None = None
    messages: str | None = None
    compare: bool = False
    dry_run: bool = False
    endpoint: str | None = None
    profile: str | None = None
    no_interpolate: bool = False
    image: tuple[str, ...] = ()
    run_tools: int | None = None
    body: str = ""


@dataclass(frozen=True)
class ConfigCommand:
    pairs: tuple[tuple[str, str], ...] = ()  # () shows the configuration


@dataclass(frozen=True)
class StatusCommand:
    pass


@dataclass(frozen=True)
class HistoryCommand:
    name: str | None = None


@dataclass(frozen=True)
class ResetCommand:
    name: str | None = None


@dataclass(frozen=True)
class PreviewCommand:
    text: str
    rule: str | None = None


@dataclass(frozen=True)
class FormCommand:
    pass


LineCommand = Union[ConfigCommand, StatusCommand, HistoryCommand, ResetCommand, PreviewCommand, FormCommand]
Args = Union[ChatCell, LineCommand]


# -- the parser ----------------------------------------------------------------------------------
def _param_argument(param) -> argument:
    """One API parameter as an argparse option; its value stays text (see the module docstring)."""
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


def arguments(func):
    """Decorate ``func`` with the magic's arguments (extras, then every parameter row)."""
    decorators = [argument_group("Cell options")]
    decorators += [argument(*names, **kwargs) for names, kwargs in EXTRA_OPTIONS]
    decorators.append(argument_group("API parameters (ChatWithDesensitize)"))
    decorators += [_param_argument(p) for p in option_params()]
    decorators.append(argument("line_command", nargs="*", help="Line magic: " + " | ".join(LINE_COMMANDS)))
    for deco in reversed(decorators):
        func = deco(func)
    # Named "%dmschat", the help's usage line reads "%%dmschat [...]" (IPython's help adds one "%").
    func = kwds(epilog=_rules_epilog())(func)
    func = magic_arguments("%dmschat")(func)
    func.parser.allow_abbrev = False  # `--top` must not silently mean --top-p or --top-k
    return func


def _rules_epilog() -> str:
    from dms_magic.masking import DEFAULT_RULE, rule_categories

    return (f"Rule categories for --rule: {', '.join(rule_categories())} "
            f"(default {DEFAULT_RULE}). Tab completes options, sub-commands, values, rules and models.")


@arguments
def _grammar(line: str) -> None:  # pragma: no cover - only its parser is used
    """%%dmschat [options]: the cell is the user message."""


PARSER = _grammar.parser


def option_spelling(name: str) -> str:
    """The shortest long spelling of a parameter, the one the magic's messages and cells use
    (``--rule`` for desensitization_rule, ``--mask`` for need_desensitization)."""
    param = find(name)
    return min((n for n in (param.option, *param.aliases) if n.startswith("--")), key=len)


def split(line: str) -> list[str]:
    try:
        return shlex.split(line, posix=True)
    except ValueError as exc:
        raise UsageError(f"cannot read the %%dmschat options ({exc}): check the quotes; "
                         f"put JSON in single quotes, e.g. --stop '[\"\\n\"]'") from None


def parse(line: str, cell: str | None = None) -> Args:
    """The arguments of ``%dmschat line`` (cell None) or of a ``%%dmschat line`` cell. A line that
    the magic refuses raises UsageError with the fix (a did-you-mean for a misspelt option)."""
    if cell is None:
        return _parse_line(line)
    argv = split(line)
    _refuse_one_dash_long_options(argv)
    try:
        ns = PARSER.parse_args(argv)
    except UsageError as exc:
        raise UsageError(f"{exc}{_option_hint(argv)}; see %%dmschat? for every option") from None
    if ns.line_command:
        raise UsageError(f"unexpected {' '.join(ns.line_command)!r} on the %%dmschat line: every option "
                         f"starts with - (see %%dmschat?); the prompt goes in the cell body")
    params = {p.name: getattr(ns, p.name) for p in option_params() if getattr(ns, p.name) is not None}
    return ChatCell(params=params, out=ns.out, quiet=ns.quiet, system=ns.system, session=ns.session,
                    messages=ns.messages, compare=ns.compare, dry_run=ns.dry_run, endpoint=ns.endpoint,
                    profile=ns.profile, no_interpolate=ns.no_interpolate, image=tuple(ns.image or ()),
                    run_tools=ns.run_tools, body=cell)


def _rule_spellings() -> tuple[str, ...]:
    param = find("desensitization_rule")
    return tuple(n for n in (param.option, *param.aliases) if n.startswith("--"))


def _parse_line(line: str) -> LineCommand:
    command, _, rest = line.strip().partition(" ")
    rest = rest.strip()
    if command not in LINE_COMMANDS:
        import difflib

        close = difflib.get_close_matches(command, LINE_COMMANDS, n=1)
        meant = f"did you mean %dmschat {close[0]}? " if close else ""
        raise UsageError(f"%dmschat {command or '(nothing)'}: {meant}expected one of {', '.join(LINE_COMMANDS)}; "
                         f"for a chat use the cell magic %%dmschat (see %dmschat?)")
    if command == "config":
        if not rest:
            return ConfigCommand()
        try:
            words = shlex.split(rest, posix=True)
        except ValueError as exc:
            raise UsageError(f"%dmschat config: cannot read {rest!r} ({exc}); write key=value") from None
        pairs = []
        for word in words:
            key, sep, value = word.partition("=")
            if not sep:
                raise UsageError(f"%dmschat config {word!r}: write key=value, e.g. model=qwen-plus")
            pairs.append((key.strip(), value.strip()))
        return ConfigCommand(tuple(pairs))
    if command == "status":
        return StatusCommand()
    if command == "form":
        return FormCommand()
    if command in ("history", "reset"):
        return (HistoryCommand if command == "history" else ResetCommand)(rest or None)
    rule = None  # preview [--rule R] TEXT
    for spelling in _rule_spellings():
        for sep in (" ", "="):
            if rest.startswith(spelling + sep):
                rule, _, rest = rest[len(spelling) + 1:].lstrip().partition(" ")
                rest = rest.strip()
    return PreviewCommand(text=rest, rule=rule or None)


def _option_spellings() -> list[str]:
    """Every spelling of every option of the cell line: the parameter table's, then the magic's own."""
    return [*(n for p in option_params() for n in (p.option, *p.aliases)), *(n for names, _ in EXTRA_OPTIONS for n in names)]


def _refuse_one_dash_long_options(argv: list[str]) -> None:
    """``-mask`` is refused: argparse reads it as ``-m ask`` (model "ask", masking off), which sent
    the unmasked prompt to a model named "ask". A one-dash word that is a long option's name with
    one dash is always that typo, never a short option with its value glued on."""
    known = _option_spellings()
    for word in argv:
        name = word.split("=", 1)[0]
        if word.startswith("-") and not word.startswith("--") and len(name) > 2 and "-" + name in known:
            raise UsageError(f"{word} has one dash; did you mean -{word}? (one dash and a letter is a short option "
                             f"with its value glued on: -mask reads as -m ask, a model named 'ask')")
        if word == "--":
            break


def _option_hint(argv: list[str]) -> str:
    """' (did you mean --top-p?)' for a misspelt option."""
    import difflib

    known = _option_spellings()
    for word in argv:
        if word.startswith("-") and word.split("=", 1)[0] not in known:
            close = difflib.get_close_matches(word.split("=", 1)[0], known, n=1)
            if close:
                return f" (did you mean {close[0]}?)"
    return ""


# -- the formatter -------------------------------------------------------------------------------
def _word(text: str) -> str:
    if "\n" in text or "\r" in text:
        raise ValueError(f"{text[:40]!r}… has a line break, which the %%dmschat option line cannot hold: "
                         "write it on one line")
    return shlex.quote(text)


def format(args: Args) -> str:  # noqa: A001 - the grammar's verb, as in parse/format
    """The magic text for ``args``: a whole cell (option line, newline, body) for a ChatCell, one
    ``%dmschat`` line for a line command. Raises ValueError for what a line cannot hold."""
    if isinstance(args, ChatCell):
        return _format_cell(args)
    if isinstance(args, ConfigCommand):
        return " ".join(["%dmschat config", *(_word(f"{k}={v}") for k, v in args.pairs)]).rstrip()
    if isinstance(args, (HistoryCommand, ResetCommand)):
        verb = "history" if isinstance(args, HistoryCommand) else "reset"
        return f"%dmschat {verb}" + (f" {args.name}" if args.name else "")
    if isinstance(args, PreviewCommand):
        rule = f" {option_spelling('desensitization_rule')} {args.rule}" if args.rule else ""
        return f"%dmschat preview{rule} {args.text}"
    if isinstance(args, StatusCommand):
        return "%dmschat status"
    if isinstance(args, FormCommand):
        return "%dmschat form"
    raise TypeError(f"not a %dmschat arguments object: {type(args).__name__}")


_FLAGS = ("quiet", "compare", "dry_run", "no_interpolate")
_VALUED = ("out", "system", "session", "messages", "endpoint", "profile")


def _long(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _pair(option: str, text: str) -> list[str]:
    # "--x=-1": a value starting with "-" would read as the next option after a space
    return [f"{option}={_word(text)}"] if text.startswith("-") else [option, _word(text)]


def _format_cell(args: ChatCell) -> str:
    words = [MAGIC]
    for dest in _VALUED:
        value = getattr(args, dest)
        if value is not None:
            words += _pair(_long(dest), value)
    for dest in _FLAGS:
        if getattr(args, dest):
            words.append(_long(dest))
    for image in args.image:
        words += _pair("--image", image)
    if args.run_tools is not None:
        words += ["--run-tools", str(args.run_tools)]
    for param in option_params():  # table order: the same cell for the same form
        text = args.params.get(param.name)
        if text is None:
            continue
        if param.kind == "bool" and text == "true":
            words.append(option_spelling(param.name))
        else:
            words += _pair(option_spelling(param.name), text)
    return " ".join(words) + "\n" + args.body


def fields_of(args: Args) -> dict[str, Any]:
    return {f.name: getattr(args, f.name) for f in fields(args)}
