"""Tab completion of %%dmschat / %dmschat through IPython's own completer (a real InteractiveShell):
what a person gets from <Tab> in a notebook or a terminal."""
from __future__ import annotations

import pytest

from dms_magic.masking import rule_categories
from dms_magic.notebook.vocabulary import KNOWN_MODELS, LINE_COMMANDS
from dms_magic.wire.params import option_params


def grammar_image(line: str) -> tuple:
    from dms_magic.notebook import grammar

    return grammar.parse(line, "hi").image


def complete(ip, text: str) -> list[str]:
    """The completions IPython offers with the cursor at the end of ``text`` (a cell)."""
    from IPython.core.completer import provisionalcompleter

    with provisionalcompleter():
        found = ip.Completer.completions(text, len(text))
        return sorted(c.text for c in found)  # IPython orders them itself


def test_options_long_and_short(ip):
    assert complete(ip, "%%dmschat --tem") == ["--temperature"]
    got = complete(ip, "%%dmschat --top")
    assert {"--top-p", "--top-k", "--top-logprobs"} <= set(got) and all(g.startswith("--top") for g in got)
    everything = complete(ip, "%%dmschat -")
    assert "-m" in everything and "-t" in everything and "-o" in everything and "--dry-run" in everything
    for param in option_params():
        assert param.option in everything
    # after a complete option and a space: the next option
    assert "--seed" in complete(ip, "%%dmschat --dry-run --se")


def test_line_magic_sub_commands(ip):
    assert complete(ip, "%dmschat ") == sorted(LINE_COMMANDS)
    assert complete(ip, "%dmschat st") == ["status"]
    assert complete(ip, "%dmschat pre") == ["preview"]


def test_rule_categories_after_the_rule_option(ip):
    categories = rule_categories()
    assert len(categories) > 1
    assert complete(ip, "%%dmschat --mask --desensitization-rule ") == sorted(categories)
    assert complete(ip, "%%dmschat --rule U") == sorted(c for c in categories if c.startswith("U"))
    assert complete(ip, "%dmschat preview --rule ") == sorted(categories)


def test_models_choices_and_booleans(ip):
    assert complete(ip, "%%dmschat -m qwen-p") == sorted(m for m in KNOWN_MODELS if m.startswith("qwen-p"))
    assert complete(ip, "%%dmschat --model ") == sorted(KNOWN_MODELS)
    assert complete(ip, "%%dmschat --response-format ") == ["json_object", "text"]
    assert complete(ip, "%%dmschat --logprobs t") == ["true"]


def test_the_next_option_after_a_flag_whose_value_is_left_out(ip):
    # the README's first cell: --mask takes an optional true/false, so "--" starts the next option
    after_flag = complete(ip, "%%dmschat --mask --")
    assert "--rule" in after_flag and "true" not in after_flag
    assert {"--top-p", "--top-logprobs"} <= set(complete(ip, "%%dmschat --logprobs --top"))
    assert complete(ip, "%%dmschat --mask -") == complete(ip, "%%dmschat -")
    assert "--seed" in complete(ip, "%%dmschat --model --se")  # "--x" is never a value


def test_known_values_match_whatever_the_case(ip):
    assert "UserInfo" in complete(ip, "%%dmschat --rule user")
    assert complete(ip, "%%dmschat -m QWEN-P") == sorted(m for m in KNOWN_MODELS if m.startswith("qwen-p"))


def test_session_names_after_history(ip):
    magics = ip.magics_manager.registry["DmsChatMagics"]
    magics.histories["support"] = [{"role": "user", "content": "hi"}]
    try:
        assert complete(ip, "%dmschat history su") == ["support"]
    finally:
        magics.histories.pop("support")


def test_the_prompt_body_and_other_code_are_left_alone(ip):
    ip.user_ns["temperature_reading"] = 1
    assert "temperature_reading" in complete(ip, "temperature_re")
    assert "--temperature" not in complete(ip, "%%dmschat\nsome --tem")  # the prompt, not the option line


def test_usage_line_is_the_cell_magic_and_lists_the_rules(ip):
    doc = ip.find_cell_magic("dmschat").__doc__
    usage = doc.split("::", 1)[1].strip()
    assert usage.startswith("%%dmschat [")
    for rule in rule_categories():
        assert rule in doc


@pytest.fixture(scope="module")
def ip():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "dms_magic")
    yield shell
    shell.run_line_magic("unload_ext", "dms_magic")


# -- by the kind of value an option takes ------------------------------------------------------------
@pytest.fixture
def user_values(ip, tmp_path, monkeypatch):
    # IPython's one shell is shared with every test that ran before in this process (which ones depends
    # on how the workers were dealt files): the user's names are set aside, as in a fresh notebook
    earlier = {k: v for k, v in ip.user_ns.items() if not k.startswith("_") and k not in ip.user_ns_hidden}
    for name in earlier:
        del ip.user_ns[name]
    ip.run_cell('conversation = [{"role": "user", "content": "hi"}]\n'
                'def get_weather(city: str) -> str:\n    """Weather."""\n    return city\n'
                'tools = [get_weather]\nnumber = 3\n')
    (tmp_path / "charts").mkdir()
    (tmp_path / "chart.png").write_bytes(b"\x89PNG")
    (tmp_path / "scan 1.jpg").write_bytes(b"\xff\xd8\xff")
    (tmp_path / "notes.txt").write_text("x")
    monkeypatch.chdir(tmp_path)
    yield
    for name in [k for k in ip.user_ns if not k.startswith("_") and k not in ip.user_ns_hidden]:
        del ip.user_ns[name]
    ip.user_ns.update(earlier)


def test_values_by_kind(ip, user_values):
    # the shell is IPython's one instance, shared with every earlier test: judge this test's names only
    mine = {"conversation", "get_weather", "tools", "number"}
    assert complete(ip, "%%dmschat --messages conv") == ["conversation"]
    offered = set(complete(ip, "%%dmschat --messages "))
    assert "conversation" in offered and not offered & (mine - {"conversation"})  # lists of messages only
    ip.user_ns.update(empty=[], pairs=[{"city": "Hangzhou"}])
    try:  # an empty list or a list of dicts without "role" is not a conversation
        assert not {"empty", "pairs"} & set(complete(ip, "%%dmschat --messages "))
    finally:
        ip.user_ns.pop("empty"), ip.user_ns.pop("pairs")
    offered = set(complete(ip, "%%dmschat --tools "))
    assert {"$get_weather", "$tools"} <= offered and "$number" not in offered and "$conversation" not in offered
    assert "tools" in complete(ip, "%%dmschat --tools $too") and "number" not in complete(ip, "%%dmschat --tools $")
    assert complete(ip, "%%dmschat --image ch") == ["chart.png", "charts/"]  # images and folders, not notes.txt
    assert complete(ip, "%%dmschat --image sc") == ["'scan 1.jpg'"]  # quoted: the option line splits on spaces
    assert grammar_image("--image 'scan 1.jpg'") == ("scan 1.jpg",)
    assert complete(ip, "%%dmschat --tools $tools --tool-choice ") == ["auto", "get_weather", "none", "required"]
    assert "sandbox" in complete(ip, "%%dmschat --endpoint ")
    assert "--temperature" not in complete(ip, "%%dmschat --image ")  # a value goes here, not an option


def test_result_variables_after_out_and_sessions_after_session(ip, user_values, to_sandbox):
    assert complete(ip, "%%dmschat -o ") == ["result"]  # no result yet: a name to start with
    ip.run_cell("%%dmschat --session trip -o answer\nhi")
    assert complete(ip, "%%dmschat -o ") == ["answer"]
    assert complete(ip, "%%dmschat --session ") == ["trip"]
