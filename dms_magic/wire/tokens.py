"""The sandbox's tokeniser: small, lossless and good enough to count and score tokens.

CJK characters and punctuation are one token each (as Qwen's tokeniser mostly does for Chinese),
ASCII words carry their leading whitespace (`` the``), digits are one token each, a run of a
repeated mark (``****``, ``...``, ``--``) is one token as in Qwen's BPE vocabulary, so a masked
``138****5678`` is 8 tokens where ``13812345678`` is 11, and a JSON escape (``\\n``, ``\\u4e2d``)
stays one token. Joining the tokens always gives back the text exactly: usage counts and
streamed deltas rely on that.
"""
from __future__ import annotations

import itertools
import re
import string
from collections.abc import Iterable, Mapping
from typing import Any

from dms_magic.wire._messages import message_text

_TOKEN = re.compile(
    r"""\s*\\(?:u[0-9a-fA-F]{4}|.)   # a JSON/backslash escape, one token
      | \s*[A-Za-z]+                 # an ASCII word with its leading space
      | \s*[0-9]                     # one digit
      | \s*(?:\*{2,}|\.{2,}|-{2,}|={2,}|_{2,}|\#{2,}|~{2,})   # a run of one repeated mark
      | \s*[^\sA-Za-z0-9]            # one CJK character or punctuation mark
      | \s+                          # trailing whitespace
    """,
    re.VERBOSE | re.DOTALL,
)

END_OF_TEXT = "<|endoftext|>"


def tokenise(text: str) -> list[str]:
    """Split text into tokens; ``"".join(tokenise(t)) == t``."""
    return _TOKEN.findall(text)


def first_tokens(text: str, n: int) -> list[str]:
    """The first ``n`` tokens of ``text`` (``tokenise(text)[:n]``) without splitting the rest."""
    return [match.group() for match in itertools.islice(_TOKEN.finditer(text), n)]


def count_tokens(text: str) -> int:
    # Counted by the regex engine (subn), not by building the list: a 0.9 MB prompt is ~150k token
    # strings (~8 MB), held at once by every worker answering such a prompt.
    return _TOKEN.subn("", text)[1]


def count_message_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """Prompt tokens of a conversation's text (``message_text`` of each message): what the sandbox
    reports as ``PromptTokens`` before image tokens, and what a dry run estimates."""
    return sum(count_tokens(message_text(m)) for m in messages)


def token_bytes(token: str) -> list[int]:
    """UTF-8 bytes of a token, as DashScope reports them in logprobs."""
    return list(token.encode("utf-8")) if token != END_OF_TEXT else []


_NOT_CJK_RUNS = re.compile("[^\u2e80-\u9fff\uf900-\ufaff]+")
_DROP_LATIN = dict.fromkeys(map(ord, string.ascii_letters))


def is_cjk_heavy(text: str) -> bool:
    """True when the text is mostly Chinese/Japanese/Korean: the sandbox then answers in Chinese."""
    # Counted in C, not with a Python loop per character (a 0.9 MB prompt took 1.7 s), and without
    # a list of every match (subn/findall hold ~8 MB for 0.9 MB): what is left after deleting.
    cjk = len(_NOT_CJK_RUNS.sub("", text))
    latin = len(text) - len(text.translate(_DROP_LATIN))  # ASCII letters, as ch.isascii() and ch.isalpha()
    return cjk > 0 and cjk * 2 >= latin
