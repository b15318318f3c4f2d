"""Tool calling: function specs, the calls a model asks for, running them, the loop.

- ``tool_spec(obj)``: an OpenAI-style ``{"type": "function", "function": {name, description,
  parameters}}`` from a spec dict (checked) or from a Python callable (JSON schema from its
  signature, type hints and docstring). ``tool_specs(tools)`` for a list (names must be unique).
- tool_choice and the ``Tools``/``ToolChoice`` query text are the parameter table's
  (``wire/params.py``: one vocabulary, ``TOOL_CHOICE_WORDS``).
- ``ToolCall``: one call the model asked for (id, name, parsed arguments, the raw string kept);
  ``ToolCall.from_wire`` reads the OpenAI shape in any key case; ``assemble_tool_calls`` joins
  streamed deltas.
- ``run_tool_calls(calls, functions)``: runs each call, never raises; ``tool_loop(send, messages,
  functions)``: rounds of answer -> run tools -> answer, with a transcript for the card.
- ``sensitive_arguments(calls, rule)``: which arguments look sensitive to the local masking engine.

Specs and calls live in wire/ (``_toolspecs``, ``_toolcalls``: the parameter table and the reply
reader need them); running them here (``_runner``), and the sensitive-argument check (``_sensitive``).
Only the standard library and ``dms_magic.masking`` are used: no client, no session, no IPython.
"""
from __future__ import annotations

from dms_magic.errors import ToolSpecError
from dms_magic.tools._runner import ToolLoopResult, ToolRun, run_tool_call, run_tool_calls, tool_loop
from dms_magic.tools._sensitive import SensitiveArgument, sensitive_arguments
from dms_magic.wire._toolcalls import ToolCall, assemble_tool_calls, tool_call_fragments, tool_calls_of
from dms_magic.wire._toolspecs import parse_docstring, schema_for, tool_functions, tool_names, tool_spec, tool_specs

__all__ = [
    "ToolSpecError", "ToolCall", "ToolRun", "ToolLoopResult", "SensitiveArgument", "tool_spec", "tool_specs",
    "tool_names", "tool_functions", "schema_for", "parse_docstring", "assemble_tool_calls", "tool_calls_of",
    "tool_call_fragments", "run_tool_call", "run_tool_calls", "tool_loop", "sensitive_arguments",
]
