"""Tab completion for ``%%dmschat`` and ``%dmschat`` through IPython's completer API (a Matcher
API v2 ``context_matcher``, added to ``ip.Completer.custom_matchers`` by ``%load_ext dms_magic``).

What it offers, from the same tables the magic parses with (nothing listed by hand here):
options long and short (``--tem<Tab>`` → ``--temperature``), the ``%dmschat`` sub-commands, rule
categories after ``--rule``, known models after ``-m``/``--model``, the choices of a choice
parameter, true/false after a boolean option, session names after ``history``/``reset``, and by the
kind of value an option takes (``VALUE_KINDS``): paths (and image variables) after ``--image``,
variables of a fitting type after ``--messages``, ``--tools`` and ``-o``, session names after
``--session``, ``sandbox`` and the configured endpoints after ``--endpoint``, the tools given on the
line after ``--tool-choice``.
"""
from __future__ import annotations

import glob
import os
import shlex
from typing import Any, Callable, Iterable, Mapping

from IPython.core.completer import CompletionContext, SimpleCompletion, context_matcher

from dms_magic.defaults import env_endpoint
from dms_magic.notebook.vocabulary import EXTRA_OPTIONS, KNOWN_MODELS, LINE_COMMANDS

BOOL_WORDS = ("true", "false")


def _BOOL_SOURCE() -> Iterable[str]:  # noqa: N802 - a constant: one function object for every flag
    return BOOL_WORDS


def rule_categories() -> list[str]:
    from dms_magic.masking import rule_categories as categories

    return list(categories())


def _option_table() -> tuple[list[str], dict[str, Callable[[], Iterable[str]]]]:
    """(every option spelling, option -> the values it takes when they are a known set)."""
    from dms_magic.wire.params import option_params

    options: list[str] = []
    values: dict[str, Callable[[], Iterable[str]]] = {}
    for spellings, _kwargs in EXTRA_OPTIONS:
        options.extend(spellings)
    for param in option_params():
        names = [param.option, *param.aliases]
        options.extend(names)
        if param.name == "desensitization_rule":
            source: Callable[[], Iterable[str]] | None = rule_categories
        elif param.name == "model":
            source = lambda: KNOWN_MODELS  # noqa: E731
        elif param.kind == "choice":
            source = (lambda choices=param.choices: choices)
        elif param.kind == "bool":
            source = _BOOL_SOURCE
        else:
            source = None
        if source is not None:
            for name in names:
                values[name] = source
    return options, values


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text, posix=True)
    except ValueError:  # an open quote: split on spaces, good enough to complete
        return text.split()


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp")


def _visible(namespace: Mapping[str, Any], hidden: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The user's own names (not IPython's: In, Out, exit, get_ipython ...)."""
    return [(k, v) for k, v in namespace.items()
            if not k.startswith("_") and not (k in hidden and hidden[k] is v)]


def _is_messages(value: Any) -> bool:
    return (isinstance(value, (list, tuple)) and bool(value)
            and all(isinstance(m, Mapping) and "role" in m for m in value))


def _is_tool(value: Any) -> bool:
    import inspect

    return inspect.isfunction(value) or (isinstance(value, Mapping) and "function" in value)


def _is_tools(value: Any) -> bool:
    if _is_tool(value):
        return True
    if isinstance(value, Mapping):  # {name: function}
        return bool(value) and all(callable(v) for v in value.values())
    return isinstance(value, (list, tuple)) and bool(value) and all(_is_tool(v) for v in value)


def _is_image(value: Any) -> bool:
    return (isinstance(value, (bytes, bytearray, os.PathLike)) or hasattr(value, "savefig")
            or (hasattr(value, "save") and hasattr(value, "size"))
            or (isinstance(value, (list, tuple)) and bool(value) and all(_is_image(v) for v in value)))


def _is_result(value: Any) -> bool:
    return type(value).__name__ in ("ChatResult", "Comparison")


def _paths(token: str) -> list[str]:
    """Directories (ending in /) and image files under what is typed so far."""
    out = []
    for path in sorted(glob.glob(os.path.expanduser(token) + "*")):
        if os.path.isdir(path):
            out.append(path + "/")
        elif path.lower().endswith(IMAGE_SUFFIXES):
            out.append(path)
    if token.startswith("~"):  # keep what was typed: ~/ stays ~/
        home = os.path.expanduser("~")
        out = ["~" + p[len(home):] if p.startswith(home) else p for p in out]
    # quoted when it must be: "scan 1.jpg" unquoted is two words on the option line
    return [shlex.quote(p) if any(c.isspace() for c in p) else p for p in out]


def _endpoints() -> list[str]:
    from dms_magic import session

    found = ["sandbox", session.configured().get("endpoint"), env_endpoint(),
             getattr(session, "CENTRAL_ENDPOINT", None)]
    return [e for e in found if e]


def _tool_names(words: list[str], namespace: Mapping[str, Any]) -> list[str]:
    """``auto``/``none``/``required`` and the names of the tools given with ``--tools`` on the line."""
    from dms_magic.wire._toolshapes import TOOL_CHOICE_WORDS

    names: list[str] = []
    for option, value in zip(words, words[1:]):
        if option == "--tools" and value.startswith("$") and value[1:] in namespace:
            from dms_magic.tools import ToolSpecError, tool_spec

            tools = namespace[value[1:]]
            if isinstance(tools, Mapping) and "function" not in tools:
                tools = list(tools.values())
            for tool in tools if isinstance(tools, (list, tuple)) else [tools]:
                try:
                    names.append(tool_spec(tool)["function"]["name"])
                except ToolSpecError:
                    continue
    return [*TOOL_CHOICE_WORDS, *names]


FRESH_RESULT_NAME = "result"  # offered after -o when no result variable exists yet


def _value_candidates(option: str, token: str, dollar: bool, words: list[str], namespace: Mapping[str, Any],
                      sessions: Iterable[str], hidden: Mapping[str, Any]) -> list[str] | None:
    """The values ``option`` takes, by kind; None when the option takes no known kind of value.
    ``dollar``: the person typed ``$`` already (IPython's token starts after it)."""
    def variables(fits: Callable[[Any], bool], sign: bool) -> list[str]:
        prefix = "$" if sign and not dollar else ""
        return [prefix + k for k, v in _visible(namespace, hidden) if fits(v)]

    if option == "--image":
        return variables(_is_image, True) if dollar else _paths(token) + variables(_is_image, True)
    if option == "--messages":
        return variables(_is_messages, False)
    if option == "--tools":
        return variables(_is_tools, True)
    if option in ("-o", "--out"):
        return variables(_is_result, False) or [FRESH_RESULT_NAME]
    if option == "--session":
        from dms_magic.notebook.vocabulary import DEFAULT_SESSION

        return list(sessions) or [DEFAULT_SESSION]
    if option == "--endpoint":
        return _endpoints()
    if option == "--tool-choice":
        return _tool_names(words, namespace)
    return None


def candidates(line_before_cursor: str, token: str, *, cell: bool, sessions: Iterable[str] = (),
               namespace: Mapping[str, Any] | None = None, hidden: Mapping[str, Any] | None = None) -> list[str]:
    """What may complete ``token`` at the end of ``line_before_cursor`` (the magic's line)."""
    options, values = _option_table()
    namespace = namespace or {}
    words = _words(line_before_cursor)[1:]  # without the %%dmschat / %dmschat word
    dollar = line_before_cursor.endswith("$" + token)
    if words and words[-1] in (token, "$" + token) and not line_before_cursor.endswith(" "):
        words = words[:-1]
    previous = words[-1] if words else None
    # "--x" is never a value; "-x" after a flag (its true/false may be left out) is the next option
    next_option = token.startswith("--") or (token.startswith("-") and previous is not None
                                             and values.get(previous) is _BOOL_SOURCE)
    by_kind = (_value_candidates(previous, token, dollar, words, namespace, sessions, hidden or {})
               if previous is not None and "=" not in previous and not next_option else None)
    fixed_values = False
    if by_kind is not None:
        pool: Iterable[str] = by_kind
    elif previous is not None and previous in values and not next_option:
        pool, fixed_values = values[previous](), True
    elif not cell and not words and not token.startswith("-"):
        pool = LINE_COMMANDS
    elif not cell and words and words[0] in ("history", "reset") and len(words) == 1:
        pool = sessions
    elif not cell and words and words[0] == "preview" and len(words) == 1 and (not token or token.startswith("-")):
        pool = ["--rule"]
    elif not cell and words and words[0] not in ("config",):
        pool = ()  # other sub-commands take free text
    elif token.startswith("-") or cell:
        pool = options
    else:
        pool = ()
    # a known set of values (rules, models, choices) matches whatever the case: "user" finds UserInfo
    fold = (lambda word: word.casefold()) if fixed_values else (lambda word: word)
    typed = fold(token)
    seen: dict[str, None] = {}
    for word in pool:
        bare = word[1:-1] if len(word) > 1 and word[0] == word[-1] == "'" else word  # a quoted path
        if (fold(word).startswith(typed) or bare.startswith(token)) and word not in seen:
            seen[word] = None
    return list(seen)


def _magic_line(context: CompletionContext) -> tuple[str, bool] | None:
    """(the line before the cursor, is it a cell magic) when the cursor is on a dmschat line."""
    line = context.text_until_cursor
    stripped = line.lstrip()
    if stripped.startswith("%%dmschat") and context.cursor_line == 0:
        return stripped, True
    if stripped.startswith("%dmschat") and not stripped.startswith("%%"):
        return stripped, False
    return None


def make_matcher(sessions: Callable[[], Iterable[str]] = lambda: ()) -> Callable:
    """A Matcher API v2 function for ``ip.Completer.custom_matchers``; ``sessions`` lists the
    conversation names ``%dmschat history``/``reset`` complete."""

    @context_matcher(identifier="dms_magic")
    def dmschat_matcher(context: CompletionContext) -> dict[str, Any]:
        found = _magic_line(context)
        if found is None:
            return {"completions": [], "suppress": False}
        line, cell = found
        if len(_words(line)) <= 1 and not line.endswith(" "):
            return {"completions": [], "suppress": False}  # still typing the magic's own name
        shell = _shell()
        namespace = getattr(shell, "user_ns", {}) if shell is not None else {}
        words = candidates(line, context.token, cell=cell, sessions=sessions(), namespace=namespace,
                           hidden=getattr(shell, "user_ns_hidden", {}) if shell is not None else {})
        kind = "option" if context.token.startswith("-") else "value"
        return {"completions": [SimpleCompletion(text=w, type=kind) for w in words], "suppress": True}

    return dmschat_matcher


def _shell() -> Any:
    from IPython import get_ipython

    return get_ipython()


def register(shell: Any, sessions: Callable[[], Iterable[str]] = lambda: ()) -> Callable:
    matcher = make_matcher(sessions)
    unregister(shell)
    shell.Completer.custom_matchers.append(matcher)
    return matcher


def unregister(shell: Any) -> None:
    matchers = shell.Completer.custom_matchers
    matchers[:] = [m for m in matchers if getattr(m, "matcher_identifier", None) != "dms_magic"]
