"""The cell grammar: parse and format are inverses (a property test over every option), every
formatted cell is one the magic accepts, and line commands parse into their own typed objects."""
from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

from dms_magic.notebook import grammar
from dms_magic.wire.params import option_params

# Values as a person types them: words, JSON, negative numbers, quotes, CJK, spaces; no line break
# (an option line cannot hold one: format refuses it, tested below).
TEXT = st.text(alphabet=string.ascii_letters + string.digits + " -_.,:'\"{}[]$=@/\\张伟手机", max_size=20)
NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
PARAMS = [p.name for p in option_params()]


def _param_text(name: str):
    kind = next(p.kind for p in option_params() if p.name == name)
    if kind == "bool":  # the bare flag reads as "true"; any other word is kept as typed
        return st.sampled_from(["true", "false", "no", "1"])
    return TEXT


@st.composite
def cells(draw) -> grammar.ChatCell:
    names = draw(st.lists(st.sampled_from(PARAMS), unique=True, max_size=6))
    return grammar.ChatCell(
        params={n: draw(_param_text(n)) for n in names},
        out=draw(st.none() | NAME), quiet=draw(st.booleans()), system=draw(st.none() | TEXT),
        session=draw(st.none() | NAME), messages=draw(st.none() | NAME), compare=draw(st.booleans()),
        dry_run=draw(st.booleans()), endpoint=draw(st.none() | TEXT), profile=draw(st.none() | NAME),
        no_interpolate=draw(st.booleans()), image=tuple(draw(st.lists(TEXT, max_size=3))),
        run_tools=draw(st.none() | st.integers(1, 50)), body=draw(st.text(max_size=40)))


def reparse(text: str):
    line, _, body = text.partition("\n")
    assert line.startswith(grammar.MAGIC)
    return grammar.parse(line[len(grammar.MAGIC):], body)


@settings(max_examples=150, deadline=None)
@given(cells())
def test_parse_of_format_is_the_same_arguments(args):
    assert reparse(grammar.format(args)) == args


@pytest.mark.parametrize("command", [
    grammar.ConfigCommand(), grammar.ConfigCommand((("model", "qwen-plus"), ("rule", "UserInfo"))),
    grammar.StatusCommand(), grammar.HistoryCommand(), grammar.HistoryCommand("trip"),
    grammar.ResetCommand("trip"), grammar.PreviewCommand("我叫张伟", rule="Finance"), grammar.FormCommand()])
def test_line_commands_round_trip(command):
    text = grammar.format(command)
    assert grammar.parse(text[len("%dmschat"):]) == command


def test_format_uses_the_magics_short_spellings():
    cell = grammar.ChatCell(params={"need_desensitization": "true", "desensitization_rule": "UserInfo",
                                    "top_logprobs": "2", "temperature": "-0.5"}, body="hi")
    text = grammar.format(cell)
    assert text.startswith("%%dmschat --mask --rule UserInfo --temperature=-0.5 --top-logprobs 2\n")
    assert "--need-desensitization" not in text and "--desensitization-rule" not in text


def test_a_line_break_in_an_option_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="line break"):
        grammar.format(grammar.ChatCell(system="one\ntwo", body="hi"))


def test_a_misspelt_option_gets_a_did_you_mean():
    with pytest.raises(UsageError, match=r"did you mean --temperature\?"):
        grammar.parse("--temprature 0.5", "hi")


def test_formatted_cells_run_in_the_magic(ip, to_sandbox):
    from IPython.utils.capture import capture_output

    cell = grammar.format(grammar.ChatCell(params={"need_desensitization": "true", "desensitization_rule": "UserInfo",
                                                   "temperature": "0.2"}, dry_run=True, body="我叫张伟"))
    with capture_output() as shown:
        assert ip.run_cell(cell).success
    assert any("dms-dry-run" in o.data.get("text/html", "") for o in shown.outputs)


def test_a_misspelt_line_command_gets_a_did_you_mean():
    for typed, meant in (("confg", "config"), ("stauts", "status")):
        with pytest.raises(UsageError, match=f"did you mean %dmschat {meant}\\?"):
            grammar.parse(f"{typed} model=qwen-plus")
