"""Tab completion for ``%%dmschat`` and ``%dmschat`` through IPython's completer API (a Matcher
API v2 ``context_matcher``, added to ``ip.Completer.custom_matchers`` by ``%load_ext dms_magic``).

What it offers, from the same tables the magic parses with (nothing listed by hand here):
options long and short (``--tem<Tab>`` → ``--temperature``), the ``%dmschat`` sub-commands, rule
categories after ``--rule``, known models after ``-m``/``--model``, the choices of a choice
parameter, true/false after a boolean option, and session names after ``history``/``reset``.
"""
from __future__ import annotations

import shlex
from typing import Any, Callable, Iterable

from IPython.core.completer import CompletionContext, SimpleCompletion, context_matcher

from dms_magic.notebook.vocabulary import EXTRA_OPTIONS, KNOWN_MODELS, LINE_COMMANDS

BOOL_WORDS = ("true", "false")


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
            source = lambda: BOOL_WORDS  # noqa: E731
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


def candidates(line_before_cursor: str, token: str, *, cell: bool, sessions: Iterable[str] = ()) -> list[str]:
    """What may complete ``token`` at the end of ``line_before_cursor`` (the magic's line)."""
    options, values = _option_table()
    words = _words(line_before_cursor)[1:]  # without the %%dmschat / %dmschat word
    if token and words and words[-1] == token:
        words = words[:-1]
    previous = words[-1] if words else None
    if previous is not None and previous.split("=", 1)[0] in values and "=" not in previous:
        pool: Iterable[str] = values[previous]()
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
    seen: dict[str, None] = {}
    for word in pool:
        if word.startswith(token) and word not in seen:
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
        words = candidates(line, context.token, cell=cell, sessions=sessions())
        kind = "option" if context.token.startswith("-") else "value"
        return {"completions": [SimpleCompletion(text=w, type=kind) for w in words], "suppress": True}

    return dmschat_matcher


def register(shell: Any, sessions: Callable[[], Iterable[str]] = lambda: ()) -> Callable:
    matcher = make_matcher(sessions)
    unregister(shell)
    shell.Completer.custom_matchers.append(matcher)
    return matcher


def unregister(shell: Any) -> None:
    matchers = shell.Completer.custom_matchers
    matchers[:] = [m for m in matchers if getattr(m, "matcher_identifier", None) != "dms_magic"]
