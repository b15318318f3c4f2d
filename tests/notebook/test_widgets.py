"""The widget form, driven from Python the way the page drives it: control values set, buttons
clicked (``Button.click()`` runs the same handlers a browser click runs), against the sandbox over
HTTP. What counts is what arrived (``sandbox.received``)."""
from __future__ import annotations

import uuid

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from dms_magic.notebook import grammar
from dms_magic.notebook.form import DmsChatForm, form
from dms_magic.notebook.form.rows import _ChoiceRow, _SliderRow, _TextRow, shown_text as _shown
from dms_magic import InvalidParameterError
from dms_magic.wire.params import BY_NAME, PARAMS, option_params

# Every parameter's documented example, sent together (they are chosen to be valid together).
FORM_PARAMS = [p for p in option_params() if p.name != "stream"]
NON_STREAM_EXAMPLES = {p.name: p.example for p in FORM_PARAMS if not p.sse_only}


# conftest: the session (the magic's and the form's default client) points at the shared sandbox,
# with the sandbox's AccessKey in the standard variables: its secret is the sentinel secret.
pytestmark = pytest.mark.usefixtures("to_sandbox")


@pytest.fixture(autouse=True)
def every_form_round_trips_through_the_magic(ip, monkeypatch):
    """After each test, every form it built, in the state it left it: "Copy as cell" either refuses
    (a ValueError saying what to fix) or writes a cell that the magic, in a real InteractiveShell,
    accepts (run as a dry run: parsed, validated, masked locally; nothing sent) with exactly the
    parameters the form would send."""
    built: list[DmsChatForm] = []
    original = DmsChatForm.__init__

    def recording_init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        built.append(self)

    monkeypatch.setattr(DmsChatForm, "__init__", recording_init)
    yield
    magics = ip.magics_manager.registry["DmsChatMagics"]
    for f in built:
        for stream in (False, True):
            try:
                cell = f.to_magic(stream=stream)
                expected = {k: v for k, v in f.values().items() if stream or not BY_NAME[k].sse_only}
            except ValueError:
                continue  # refused, with a message: no cell was written
            line, body = cell.split("\n", 1)
            assert line.startswith("%%dmschat")
            args = grammar.parse(line[len("%%dmschat"):], body)
            assert {k: v for k, v in magics._params(args).items() if k != "stream"} == expected, cell
            with capture_output() as shown:
                ip.run_cell_magic("dmschat", line[len("%%dmschat"):] + " --dry-run", body)
            assert "UsageError" not in shown.stderr + shown.stdout, (cell, shown.stderr)
            assert any("dms-dry-run" in o.data.get("text/html", "") for o in shown.outputs), (cell, shown.stderr)


@pytest.fixture()
def tag():
    """A word unique to this test, put in its prompts: the sandbox is shared (and its journal
    bounded), so a test finds its own requests by this tag, not by position."""
    return "tag" + uuid.uuid4().hex[:12]


def arrived(sandbox, tag: str) -> list:
    """(query, parsed ChatRequest) of each request whose messages carry ``tag``, oldest first."""
    out = []
    for entry in sandbox.received:
        request = entry["request"]
        if any(tag in str(m.get("content")) for m in request.messages or ()):
            out.append((entry.get("query") or {}, request))
    return out


def send_and_catch(sandbox, button, tag: str) -> tuple[dict, object]:
    before = len(arrived(sandbox, tag))
    button.click()
    got = arrived(sandbox, tag)[before:]
    assert len(got) == 1, f"expected one request, {len(got)} arrived"
    return got[0]


def type_into(row, value) -> None:
    """What a person does in the page to give ``row`` this value (no .set())."""
    if isinstance(row, _SliderRow):
        row.control.value = value  # dragging ticks the row's checkbox by itself ...
        row.use.value = True  # ... and when it already shows the value, the person ticks it
    elif isinstance(row, _ChoiceRow):
        row.control.value = next(label for label, v in row.values.items() if v == value and v is not None)
    else:
        row.control.value = _shown(row.param, value)


# -- every control reaches the wire --------------------------------------------------------------
def test_every_control_typed_in_reaches_the_wire_on_send(sandbox, tag):
    f = form()
    f.prompt.value = f"我叫张伟，手机号13812345678。{tag}"
    f.system.value = "Answer briefly."
    for name, value in NON_STREAM_EXAMPLES.items():
        type_into(f.rows[name], value)
    query, request = send_and_catch(sandbox, f.buttons["Send"], tag)

    for name, value in NON_STREAM_EXAMPLES.items():
        param = BY_NAME[name]
        assert request.values.get(name) == param.coerce(value), name
        assert query.get(param.wire) == param.to_text(param.coerce(value)), param.wire
    assert request.messages == [{"role": "system", "content": "Answer briefly."},
                                {"role": "user", "content": f"我叫张伟，手机号13812345678。{tag}"}]
    assert f.result.text and "answered by sandbox" in f.status.value


def test_stream_button_sends_the_sse_only_controls_and_streams(sandbox, tag):
    f = form(prompt=f"hello there {tag}", model="qwen-plus", include_usage=True, max_tokens=40)
    query, request = send_and_catch(sandbox, f.buttons["Stream"], tag)
    assert request.stream is True and request.include_usage is True
    assert request.model == "qwen-plus" and request.max_tokens == 40
    assert query.get("IncludeUsage") == "true"
    html = f.output.outputs[-1]["data"]["text/html"]
    assert "dms-chat-result" in html and "streaming…" not in html  # the final card replaced the live one
    assert f.result.text and f.result.text.strip()[:20] in _unescape(html)


def test_send_leaves_stream_only_controls_to_the_stream_button(sandbox, tag):
    f = form(prompt=f"hi {tag}", include_usage=True)
    query, request = send_and_catch(sandbox, f.buttons["Send"], tag)
    assert request.include_usage is None and request.stream is None
    assert "IncludeUsage" not in query


def test_unset_controls_are_not_sent(sandbox, tag):
    f = form(prompt=f"only a prompt {tag}")
    f.rows["temperature"].control.value = 1.5  # moved, then unticked again: unset
    f.rows["temperature"].use.value = False
    query, request = send_and_catch(sandbox, f.buttons["Send"], tag)
    assert set(request.values) == {"messages", "instance_id"}  # the instance comes from DMS_MAGIC_INSTANCE_ID
    assert {p.wire for p in PARAMS} & set(query) == {"InstanceId"}


def test_set_uses_python_names_and_is_never_clamped(sandbox, tag):
    f = form()
    f.set(prompt=f"p {tag}", temperature=1.995, top_k=500, top_p=0.001, seed=2**31 - 1, stop=["\n", "。"],
          presence_penalty=-2, logprobs=True, top_logprobs=5, response_format="json_object")
    _, request = send_and_catch(sandbox, f.buttons["Send"], tag)
    # valid values beyond a slider's initial span widen it; nothing is clamped
    assert request.temperature == 1.995 and request.top_k == 500 and request.top_p == 0.001
    assert request.seed == 2**31 - 1 and request.stop == ["\n", "。"] and request.presence_penalty == -2
    assert request.top_logprobs == 5 and request.response_format == "json_object"
    f.set(temperature=None)
    _, request = send_and_catch(sandbox, f.buttons["Send"], tag)
    assert request.temperature is None


# -- invalid values: a message next to the control, nothing sent ----------------------------------
@pytest.mark.parametrize("name, value", [("temperature", 2), ("top_p", 0), ("top_logprobs", 6), ("max_tokens", 0),
                                         ("presence_penalty", 2.5), ("response_format", "xml"), ("top_k", -1)])
def test_set_out_of_range_raises_the_tables_error_and_shows_it(name, value):
    f = form()
    before = f.rows[name].read()
    with pytest.raises(ValueError) as raised:
        f.set(**{name: value})
    with pytest.raises(InvalidParameterError) as expected:
        BY_NAME[name].coerce(value)
    assert str(raised.value) == str(expected.value)
    assert f.rows[name].error == str(expected.value)
    assert f.rows[name].read() == before  # not clamped, not half-applied


def test_typed_invalid_value_blocks_send_and_shows_the_message(sandbox, tag):
    f = form(prompt=f"hi {tag}")
    f.rows["max_tokens"].control.value = "lots"
    assert f.rows["max_tokens"].error == "max_tokens='lots' is invalid: expected an integer >= 1"  # live check
    for name in ("Send", "Stream", "Compare"):
        f.buttons[name].click()
    assert arrived(sandbox, tag) == []
    assert "Not sent" in f.status.value and "max_tokens" in f.status.value
    with pytest.raises(ValueError, match="max_tokens"):
        f.send()
    f.rows["max_tokens"].control.value = "12"
    assert f.rows["max_tokens"].error == ""
    _, request = send_and_catch(sandbox, f.buttons["Send"], tag)
    assert request.max_tokens == 12


def test_cross_field_rule_shows_next_to_the_dependent_control(sandbox, tag):
    f = form(prompt=f"hi {tag}", need_desensitization=True)
    f.buttons["Send"].click()
    assert arrived(sandbox, tag) == []
    assert "desensitization_rule" in f.rows["desensitization_rule"].error
    f.rows["desensitization_rule"].control.value = "UserInfo"
    # Ticking top_logprobs turns logprobs on at once, and says so next to it.
    f.rows["top_logprobs"].use.value = True
    assert f.rows["logprobs"].read() is True and "turned on" in f.rows["logprobs"].message.value
    # With logprobs explicitly off, top_logprobs says why it cannot be sent, before any Send.
    f.rows["logprobs"].control.value = "off"
    assert "needs --logprobs" in f.rows["top_logprobs"].error
    with pytest.raises(ValueError, match="logprobs"):
        f.send()
    assert arrived(sandbox, tag) == []
    f.rows["logprobs"].control.value = "on"
    assert f.rows["top_logprobs"].error == ""
    send_and_catch(sandbox, f.buttons["Send"], tag)


def test_empty_prompt_is_not_sent(sandbox, tag):
    f = form(system=f"system {tag}")
    f.buttons["Send"].click()
    assert arrived(sandbox, tag) == [] and "prompt" in f.prompt_message.value


def test_set_changes_nothing_when_one_value_is_bad():
    f = form(temperature=0.3)
    with pytest.raises(ValueError, match="top_p"):
        f.set(prompt="new", temperature=0.9, top_p=0)
    assert f.rows["temperature"].read() == 0.3 and f.prompt.value == ""
    assert "top_p" in f.rows["top_p"].error and f.rows["temperature"].error == ""


def test_unknown_name_in_set_names_the_close_match():
    with pytest.raises(ValueError, match="Did you mean 'temperature'"):
        form().set(temprature=1)
    with pytest.raises(ValueError, match=r"set\(need_desensitization=...\)"):
        form().set(NeedDesensitization=True)


# -- outputs ----------------------------------------------------------------------------------
def test_output_is_the_magics_result_card(sandbox, tag):
    from dms_magic.notebook.display import bundle

    f = form(prompt=f"我叫张伟，手机号13812345678。{tag}", need_desensitization=True,
             desensitization_rule="UserInfo", logprobs=True, top_logprobs=2)
    result = f.send()
    (shown,) = f.output.outputs
    data, metadata = bundle(result)
    assert shown["data"] == data and shown["metadata"] == metadata
    assert "dms-chat-result" in data["text/html"] and "prompt_tokens" in data["text/html"]
    assert f.result is result and result.backend == "sandbox"


def test_card_follows_the_magics_display_options(ip, sandbox, tag, magic_config):
    ip.run_line_magic("config", "DmsChatMagics.show_usage = False")
    f = form(prompt=f"hi {tag}")
    f.send()
    html = f.output.outputs[0]["data"]["text/html"]
    assert "dms-chat-result" in html and "prompt_tokens" not in html and f.result.usage_dict


def test_compare_button_sends_masked_and_unmasked_and_shows_the_comparison(sandbox, tag):
    f = form(prompt=f"我叫张伟，手机号13812345678。{tag}", desensitization_rule="UserInfo", model="qwen-plus")
    f.buttons["Compare"].click()
    got = arrived(sandbox, tag)
    assert sorted(bool(r.need_desensitization) for _, r in got) == [False, True]
    assert all(r.model == "qwen-plus" for _, r in got)
    assert type(f.result).__name__ == "Comparison"
    assert f.output.outputs[0]["data"]["text/html"] == f.result._repr_html_()


def test_api_error_is_one_message_in_the_output(sandbox, tag):
    f = form(prompt=f"hi {tag}", instance_id=987654)  # an instance the sandbox does not serve
    f.buttons["Send"].click()
    assert f.result is None
    text = f.output.outputs[0]["data"]["text/plain"]
    assert "Traceback" not in text and text.startswith("InstanceNotExist: "), text  # the error code first
    assert "InstanceId=987654" in text and len(f.output.outputs) == 1
    assert sandbox.access_key_secret not in text + f.status.value + f.to_magic()


# -- conversation, config, cells ---------------------------------------------------------------
def test_conversation_mode_keeps_history_shared_with_the_magic(ip, sandbox, tag):
    f = form(conversation=True, system="Be brief.")
    f.set(prompt=f"first question {tag}")
    first = f.send()
    f.set(prompt="second question")
    _, request = send_and_catch(sandbox, f.buttons["Send"], tag)
    assert [m["role"] for m in request.messages] == ["system", "user", "assistant", "user"]
    assert request.messages[2]["content"] == first.text
    assert "2 turns" in f.status.value
    with capture_output() as shown:
        ip.run_line_magic("dmschat", "history form")
    assert "second question" in "".join(o.data.get("text/plain", "") for o in shown.outputs)
    f.buttons["Clear"].click()
    assert f.history == [] and f.prompt.value == "" and f.output.outputs == ()
    f.set(prompt=f"fresh {tag}")
    _, request = send_and_catch(sandbox, f.buttons["Send"], tag)
    assert [m["role"] for m in request.messages] == ["system", "user"]


@pytest.fixture()
def magic_config(ip):
    """``%config DmsChatMagics.*`` values live in the shell's config beyond the test: drop ours after."""
    yield
    for trait in ("model", "show_usage"):
        ip.config.get("DmsChatMagics", {}).pop(trait, None)
    from dms_magic import session

    session.configure(model=None, show_usage=None)  # the session's settings store holds them


def test_defaults_come_from_the_magics_configuration(ip, sandbox, tag, magic_config):
    ip.run_line_magic("config", "DmsChatMagics.model = 'qwen-max'")
    ip.run_line_magic("dmschat", "config desensitization_rule=UserInfo temperature=0.3")
    f = form(prompt=f"hi {tag}")
    assert f.rows["model"].read() == "qwen-max" and f.rows["temperature"].read() == 0.3
    assert f.rows["desensitization_rule"].read() == "UserInfo"
    f2 = form(prompt=f"hi {tag}", model="qwen-turbo")  # form(**defaults) wins over the configuration
    _, request = send_and_catch(sandbox, f2.buttons["Send"], tag)
    assert request.model == "qwen-turbo" and request.temperature == 0.3


def test_to_magic_cell_sends_the_same_request(ip, sandbox, tag):
    f = form(prompt=f"Summarise {{this}}: 我叫张伟。{tag}", system="You are terse.")
    f.set(**NON_STREAM_EXAMPLES)
    cell = f.to_magic()
    assert cell.splitlines()[0].startswith("%%dmschat ") and "--no-interpolate" in cell
    assert all(grammar.option_spelling(k) in cell for k in NON_STREAM_EXAMPLES)  # the magic's words
    _, from_form = send_and_catch(sandbox, f.buttons["Send"], tag)
    line, body = cell.split("\n", 1)
    with capture_output():
        ip.run_cell_magic("dmschat", line.removeprefix("%%dmschat "), body)
    from_cell = arrived(sandbox, tag)[-1][1]
    assert len(arrived(sandbox, tag)) == 2 and from_cell.values == from_form.values


def test_copy_as_cell_inserts_the_cell_below_and_shows_it(ip):
    f = form(prompt="hi", temperature=0.5, need_desensitization=False)
    ip.rl_next_input = None
    f.buttons["Copy as cell"].click()
    expected = "%%dmschat --mask false --temperature 0.5\nhi"  # the magic's own spellings
    assert f.to_magic() == expected
    assert ip.rl_next_input == expected  # IPython's set_next_input: the frontend puts it below
    assert "--temperature 0.5" in f.cell_output.outputs[0]["data"]["text/html"]


def test_form_is_generated_from_the_table():
    f = form()
    assert list(f.rows) == [p.name for p in FORM_PARAMS]
    sliders = {n for n, r in f.rows.items() if isinstance(r, _SliderRow)}
    assert {"temperature", "top_p", "top_k", "presence_penalty"} <= sliders
    temperature = f.rows["temperature"].control
    assert temperature.min == 0 and 1.98 < temperature.max < 2  # [0, 2): the slider stops below 2
    assert f.rows["top_p"].control.min > 0 and f.rows["top_p"].control.max == 1
    assert isinstance(f.rows["need_desensitization"], _ChoiceRow) and isinstance(f.rows["stop"], _TextRow)
    assert "qwen-plus" in f.rows["model"].control.options and not f.rows["model"].control.ensure_option
    # first screen: prompt, --mask, --rule, --model, the buttons, the answer; the rest folded by group
    shown = list(f.children)
    assert [f.rows[n].box for n in ("need_desensitization", "desensitization_rule", "model")] == shown[1:4]
    assert shown.index(f.output) < shown.index(f.advanced) and f.advanced.selected_index is None
    folded = {box for group in f.advanced.children for box in getattr(group, "children", ())}
    assert {f.rows[n].box for n in ("temperature", "enable_search", "top_logprobs", "tools")} <= folded
    titles = [f.advanced.get_title(i) for i in range(len(f.advanced.children))]
    assert "sampling" in titles and "advanced" in titles
    assert f.rows["top_logprobs"].label.description == "--top-logprobs"  # the magic's option name
    assert "top_logprobs" in f.rows["top_logprobs"].label.tooltip  # the API name in the tooltip


def test_displaying_the_form_shows_its_widget():
    f = DmsChatForm()
    data, _ = InteractiveShell.instance().display_formatter.format(f)
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == f.model_id


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)


def test_an_explicit_client_is_used_with_its_instance(client, sandbox, tag):
    f = form(client=client, prompt=f"hi {tag}")
    assert f.rows["instance_id"].control.placeholder == f"default: {client.instance_id} (this form's client)"
    _, request = send_and_catch(sandbox, f.buttons["Send"], tag)
    assert request.instance_id == client.instance_id and f.result.backend == "sandbox"


def test_dmschat_form_line_magic_shows_the_form(ip):
    with capture_output() as shown:
        ip.run_line_magic("dmschat", "form")
    (output,) = shown.outputs
    assert "application/vnd.jupyter.widget-view+json" in output.data
    # A saved notebook shows this where the live form was: what it is, how to get it back.
    assert output.data["text/plain"].startswith("dms_magic chat form (an interactive widget: run this cell")


def test_the_secret_never_reaches_the_form(sandbox, tag):
    f = form(prompt=f"我叫张伟 {tag}", need_desensitization=True, desensitization_rule="UserInfo", logprobs=True)
    f.send()
    f.stream()
    f.compare()
    f.copy_as_cell()
    seen = [repr(f), f.to_magic(), f.status.value, repr(f.output.outputs), repr(f.cell_output.outputs),
            repr(f.get_state())]
    seen += [repr(row.box.get_state()) + repr(row.control.get_state()) for row in f.rows.values()]
    assert sandbox.access_key_secret not in "".join(seen)
    assert sandbox.access_key_id not in f.to_magic()


def test_buttons_are_disabled_while_a_click_is_handled(sandbox, tag):
    f = form(prompt=f"hi {tag}")
    seen = []
    f.buttons["Compare"].observe(lambda change: seen.append(change["new"]), names="disabled")
    send_and_catch(sandbox, f.buttons["Send"], tag)
    assert seen == [True, False] and not any(b.disabled for b in f.buttons.values())


def test_a_multi_line_system_prompt_has_no_cell_spelling():
    f = form(prompt="hi", system="Rule one.\nRule two.")
    with pytest.raises(ValueError, match="line break"):
        f.to_magic()
    f.buttons["Copy as cell"].click()
    assert "line break" in f.output.outputs[0]["data"]["text/plain"]
    f.set(system="Rule one. Rule two.")
    assert f.to_magic() == "%%dmschat --system 'Rule one. Rule two.'\nhi"


# -- what used to surprise (issue 17) --------------------------------------------------------------
def test_an_unticked_slider_says_default_and_shows_no_number():
    f = form()
    row = f.rows["temperature"]
    assert row.use.value is False and row.readout.value == "" and row.readout.placeholder == "default"
    row.control.value = 0.3  # dragging ticks it and shows the number
    assert row.use.value is True and row.readout.value == "0.30" and row.read() == 0.3
    row.use.value = False  # unticking empties the readout again: nothing is sent
    assert row.readout.value == "" and row.read() is None


@pytest.mark.parametrize("name, typed, kept", [("temperature", "5", 0.7), ("top_logprobs", "9", 0)])
def test_a_value_typed_out_of_range_is_refused_next_to_the_slider_never_clamped(sandbox, tag, name, typed, kept):
    f = form(prompt=f"hi {tag}")
    row = f.rows[name]
    row.control.value = kept
    row.readout.value = typed
    assert row.readout.value == typed and row.control.value == kept  # not clamped to the slider's end
    assert name in row.error and "invalid" in row.error and "is invalid" in row.message.value
    f.buttons["Send"].click()
    assert arrived(sandbox, tag) == [] and "Not sent" in f.status.value
    row.readout.value = str(kept)
    assert row.error == "" and row.read() == kept


def test_a_refused_attempt_leaves_no_earlier_answer_on_screen(sandbox, tag):
    f = form(prompt=f"hi {tag}")
    send_and_catch(sandbox, f.buttons["Send"], tag)
    assert f.output.outputs and f.result is not None
    f.rows["max_tokens"].control.value = "0"
    f.buttons["Send"].click()
    assert f.output.outputs == () and f.result is None and "Not sent" in f.status.value


def test_a_double_click_sends_once(sandbox, tag, monkeypatch):
    from datetime import datetime, timedelta, timezone

    from dms_magic.notebook.form import box as widgets

    f = form(prompt=f"hi {tag}")
    sent = datetime(2026, 1, 1, tzinfo=timezone.utc)
    clicks = iter([sent, sent + timedelta(milliseconds=120), sent + timedelta(seconds=3)])
    monkeypatch.setattr(widgets, "_click_sent_at", lambda: next(clicks))  # the browser's send times
    before = len(arrived(sandbox, tag))
    f.buttons["Send"].click()
    f.buttons["Send"].click()  # the second half of a double click: ignored
    assert len(arrived(sandbox, tag)) == before + 1
    f.buttons["Send"].click()  # three seconds later: a new send
    assert len(arrived(sandbox, tag)) == before + 2


def test_a_rule_typo_is_flagged_as_typed_with_the_close_match():
    f = form()
    f.rows["desensitization_rule"].control.value = "Userinfo"
    error = f.rows["desensitization_rule"].error
    assert "did you mean UserInfo?" in error
    f.rows["desensitization_rule"].control.value = "UserInfo"
    assert f.rows["desensitization_rule"].error == ""


def test_masking_on_without_a_rule_asks_for_one_at_once():
    f = form()
    f.rows["need_desensitization"].control.value = "on"
    assert "choose a --rule" in f.rows["desensitization_rule"].message.value


def test_a_business_error_shows_its_code_not_http_200():
    from dms_magic.errors import DmsError

    f = form()
    f._show_failure(DmsError(code="InvalidParameter", message="bad rule", http_status=200, request_id="R1"))
    assert "Failed: InvalidParameter" in f.status.value
    text = f.output.outputs[0]["data"]["text/plain"]
    assert text.startswith("InvalidParameter: bad rule") and "HTTP 200" not in text and "R1" in text


def test_copy_as_cell_refuses_what_the_magic_would_refuse():
    f = form(prompt="hi", top_logprobs=2)  # logprobs turned on for it: a valid cell
    assert "--logprobs --top-logprobs 2" in f.to_magic()
    f.rows["logprobs"].control.value = "off"
    with pytest.raises(ValueError, match="logprobs"):
        f.to_magic()
    f.buttons["Copy as cell"].click()
    assert "Not copied" in f.status.value and f.cell_output.outputs == ()
    f.set(prompt="")
    f.rows["logprobs"].control.value = "on"
    with pytest.raises(ValueError, match="prompt"):
        f.to_magic()


def test_copy_as_cell_says_where_the_cell_went(ip, monkeypatch):
    from dms_magic.notebook.form import box as widgets

    f = form(prompt="hi")
    f.buttons["Copy as cell"].click()  # from running code (IPython's set_next_input): inserted
    assert "inserted below" in f.cell_output.outputs[0]["data"]["text/html"]
    assert "inserted below" in f.status.value
    monkeypatch.setattr(widgets, "_insert_cell_below", lambda text: None)  # a click in JupyterLab
    f.buttons["Copy as cell"].click()
    shown = f.cell_output.outputs[0]["data"]["text/html"]
    assert "select and copy" in shown and "%%dmschat" in shown and "shown below" in f.status.value
    assert "f.copy_as_cell" not in shown  # %dmschat form gives no `f`: never tell the user to run it


def test_quick_clicks_on_two_buttons_both_act(sandbox, tag, monkeypatch):
    from datetime import datetime, timedelta, timezone

    from dms_magic.notebook.form import box as widgets

    f = form(prompt=f"hi {tag}")
    sent = datetime(2026, 1, 1, tzinfo=timezone.utc)
    clicks = iter([sent, sent + timedelta(milliseconds=100)])
    monkeypatch.setattr(widgets, "_click_sent_at", lambda: next(clicks))
    send_and_catch(sandbox, f.buttons["Send"], tag)
    f.buttons["Copy as cell"].click()  # another button, 0.1 s later: not a double click
    assert f.cell_output.outputs


def test_masking_is_reported_once_in_the_card_not_again_in_the_status(sandbox, tag):
    f = form(prompt=f"我叫张伟，手机号13812345678。{tag}", need_desensitization=True, desensitization_rule="UserInfo")
    send_and_catch(sandbox, f.buttons["Send"], tag)
    card = f.output.outputs[0]["data"]["text/html"]
    assert "masked" in card and "masked" not in f.status.value
    assert "dms-masking-warning" not in f.status.value


@pytest.mark.parametrize("change", [
    lambda f: f.set(temperature=0.9),
    lambda f: setattr(f.prompt, "value", "something else"),
    lambda f: setattr(f.system, "value", "be brief"),
    lambda f: setattr(f.conversation, "value", True),
    lambda f: setattr(f.rows["top_p"].use, "value", True),  # ticking a slider on
    lambda f: setattr(f.rows["desensitization_rule"].control, "value", "UserInfo"),
])
def test_a_copied_cell_goes_away_when_the_form_changes(change):
    f = form(prompt="hi", temperature=0.5)
    f.buttons["Copy as cell"].click()
    assert "--temperature 0.5" in f.cell_output.outputs[0]["data"]["text/html"]
    change(f)
    # what is left to copy never disagrees with the form; nor does the status point at it
    assert f.cell_output.outputs == () and "copied as cell" not in f.status.value


@pytest.mark.parametrize("button", ["Send", "Stream", "Compare"])
def test_a_copied_cell_goes_away_when_an_attempt_starts(sandbox, tag, button):
    f = form(prompt=f"hi {tag}")
    f.buttons["Copy as cell"].click()
    assert f.cell_output.outputs
    f.buttons[button].click()
    assert f.cell_output.outputs == ()
