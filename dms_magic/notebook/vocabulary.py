"""What the magic's command line accepts besides the parameter table: the line sub-commands, the
options that are not API parameters, and the model names offered as suggestions.

One module below the magic, its completer and the form, which all read these lists (so none of
them imports another for them).
"""
from __future__ import annotations

import re

LINE_COMMANDS = ("config", "status", "history", "reset", "preview", "form")
from dms_magic.defaults import DEFAULT_TOOL_ROUNDS  # --run-tools without N
# Extra options that are not API parameters. (--stream is the table's own `stream` row.)
EXTRA_OPTIONS = (
    (("-o", "--out"), dict(metavar="VAR", help="Store the ChatResult in VAR (still displayed unless --quiet).")),
    (("--quiet",), dict(action="store_true", help="Do not display the result (use with -o).")),
    (("--system",), dict(metavar="TEXT", help="A system message sent before the conversation.")),
    (("--session",), dict(metavar="NAME", help="Named multi-turn conversation: earlier turns are sent too.")),
    (("--messages",), dict(metavar="VAR", help="Send the list of {role, content} messages in VAR "
                                               "(the cell, if not empty, is appended as a user message).")),
    (("--compare",), dict(action="store_true", help="Send the prompt masked and unmasked; show both and the "
                                                    "differences.")),
    (("--dry-run",), dict(action="store_true", help="Show the request (no keys, no signature), the local "
                                                    "masking preview and a prompt-token estimate; send nothing.")),
    (("--endpoint",), dict(metavar="URL", help="Endpoint for this cell: host or URL, or 'sandbox'.")),
    (("--profile",), dict(metavar="NAME", help="Alibaba Cloud credentials profile for this cell.")),
    (("--no-interpolate",), dict(action="store_true", help="Send the cell as typed: no {name} substitution.")),
    # Images and tools (notebook/images_tools.py reads them; --tools/--tool-choice are table rows).
    (("--image",), dict(metavar="PATH|URL|$VAR", action="append", default=None,
                        help="An image for the user message (repeatable): a file path, an http(s) URL, or $var "
                             "holding a path, bytes, a PIL image, a matplotlib figure or a list of them. Sent as "
                             "it is: masking applies to text only.")),
    (("--run-tools",), dict(metavar="N", nargs="?", const=DEFAULT_TOOL_ROUNDS, type=int, default=None,
                            help=f"Run the tool calls the model asks for with the functions given to --tools (or "
                                 f"of the same name in the notebook), send the results back and continue, at "
                                 f"most N rounds (default {DEFAULT_TOOL_ROUNDS}).")),
)

# The one `{name}` placeholder rule: the magic substitutes what it matches (a defined name), and
# the form's "copy as cell" adds --no-interpolate when its prompt has one. ``{{doubled}}`` and
# JSON such as ``{"a": 1}`` never match.
PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_]\w*)\}(?!\})")

# Suggestions for the model (the form's combobox offers the same list; any other model id works).
KNOWN_MODELS = (
    "qwen-plus", "qwen-max", "qwen-turbo", "qwen-flash", "qwen-long",
    "qwen3-max", "qwen3-max-preview", "qwen-plus-latest", "qwen-max-latest", "qwen-turbo-latest",
    "qwen3-235b-a22b", "qwen3-32b", "qwen3-30b-a3b", "qwen3-coder-plus",
)
DEFAULT_SESSION = "default"  # offered after --session when no conversation exists yet
