"""Stopping is routine: Ctrl-C on a streaming cell (a KeyboardInterrupt raised from the stream, as
the kernel's SIGINT raises it in the reading thread), a stream that breaks off (the server cuts the
connection), and the same for tool loops and the form. In a real InteractiveShell, over HTTP."""
from __future__ import annotations

import json

import pytest
from IPython.utils.capture import capture_output

from dms_magic import session
from dms_magic.client import ChatStream

pytestmark = pytest.mark.usefixtures("to_sandbox")

LONG_PROMPT = "写一首关于数据脱敏的长诗，至少二十行。"


class Ran:
    def __init__(self, result, captured):
        self.success = result.success
        self.error = result.error_in_exec or result.error_before_exec
        self.stdout, self.stderr = captured.stdout, captured.stderr
        self.outputs = [o.data for o in captured.outputs]

    @property
    def lines(self) -> list[str]:
        return (self.stdout + self.stderr).strip().splitlines()

    @property
    def last_html(self) -> str:
        return [d.get("text/html", "") for d in self.outputs][-1]


def run(ip, source: str) -> Ran:
    with capture_output() as captured:
        result = ip.run_cell(source)
    return Ran(result, captured)


@pytest.fixture
def ctrl_c(monkeypatch):
    """ctrl_c(after=n): the stream raises KeyboardInterrupt when asked for its (n+1)-th event, as
    Ctrl-C does while a cell waits on the network (the interrupt lands in the reading frame)."""

    original = ChatStream.__next__
    plan = {"after": None, "stream": 1, "streams": 0}

    def interrupted_next(self):
        if not getattr(self, "_test_seen", False):
            self._test_seen = True
            plan["streams"] += 1
            self._test_number, self._test_events = plan["streams"], 0
        if plan["after"] is not None and self._test_number == plan["stream"] and self._test_events >= plan["after"]:
            raise KeyboardInterrupt
        self._test_events += 1
        return original(self)

    monkeypatch.setattr(ChatStream, "__next__", interrupted_next)

    def arm(after: int | None, stream_number: int = 1):
        plan.update(after=after, stream=plan["streams"] + stream_number)

    return arm


def test_ctrl_c_mid_stream_ends_with_one_line_a_stopped_card_and_the_partial_result(ip, ctrl_c):
    assert run(ip, "%%dmschat -o r\nfirst question").success
    previous = ip.user_ns["r"]
    ctrl_c(after=4)
    ran = run(ip, f"%%dmschat --stream -o r\n{LONG_PROMPT}")
    assert not ran.success
    assert len(ran.lines) == 1 and ran.lines[0].startswith("stopped (Ctrl-C)"), ran.lines
    assert "Traceback" not in ran.stdout + ran.stderr and "KeyboardInterrupt" not in ran.stdout + ran.stderr
    r = ip.user_ns["r"]
    assert r is not previous  # never the previous answer
    assert r.partial is True and r.stop_reason == "stopped" and r.partial_text == r.text and r.text
    assert "stopped" in ran.last_html and "streaming…" not in ran.last_html
    # what was received is kept, nothing after: the same prompt in full starts with it
    ctrl_c(after=None)
    assert run(ip, f"%%dmschat --stream -o full\n{LONG_PROMPT}").success
    assert ip.user_ns["full"].text.startswith(r.text) and len(ip.user_ns["full"].text) > len(r.text)


def test_ctrl_c_does_not_write_the_stopped_turn_into_the_session(ip, ctrl_c):
    assert run(ip, "%%dmschat --session s\nhello").success
    ctrl_c(after=2)
    assert not run(ip, f"%%dmschat --stream --session s\n{LONG_PROMPT}").success
    history = ip.magics_manager.registry["DmsChatMagics"].histories["s"]
    assert [m["content"] for m in history if m["role"] == "user"] == ["hello"]


@pytest.fixture
def cut_off(scripted, monkeypatch):
    """The magic pointed at a server that sends two events of an answer, then goes away."""
    from helpers.scripted import AK, SK, sse_event

    events = "".join(f"data: {json.dumps(sse_event(t), ensure_ascii=False)}\n\n" for t in ("部分", "回答"))
    server = scripted(("short", events.encode("utf-8")))
    monkeypatch.setenv("DMS_MAGIC_ENDPOINT", server.url)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", AK)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SK)
    session.reset()
    return server


def test_a_stream_that_breaks_off_is_interrupted_in_one_line_with_the_partial_text(ip, cut_off):
    ran = run(ip, "%%dmschat --stream -o r\nhi")
    assert not ran.success
    assert len(ran.lines) == 1 and ran.lines[0].startswith("interrupted"), ran.lines
    assert "r.partial_text" in ran.lines[0]
    r = ip.user_ns["r"]
    assert r.partial is True and r.stop_reason == "interrupted" and r.partial_text == "部分回答"
    assert "interrupted" in ran.last_html and "streaming…" not in ran.last_html


TOOLS = '''
def get_weather(city: str, days: int = 1) -> dict:
    """Weather forecast for a city."""
    return {"city": city, "days": days, "temperature_c": 21}

def book_table(restaurant: str, people: int = 2) -> str:
    """Book a table at a restaurant."""
    return f"booked {restaurant} for {people}"

tools = [get_weather, book_table]
'''
TOOL_CELL = ("%%dmschat --tools $tools --run-tools -o r\n"
             'get_weather city=Oslo, then book_table restaurant="Lost Heaven" people=4')


def test_a_tool_loop_shows_each_call_before_the_answer_ends(ip):
    ip.run_cell(TOOLS)
    ran = run(ip, TOOL_CELL)
    assert ran.success, ran.error
    growing = [d.get("text/html", "") for d in ran.outputs[:-1]]
    # the first call's row is on the page while the loop goes on (a card still streaming)
    first_row = [i for i, h in enumerate(growing) if "get_weather" in h and "dms-tool-calls" in h]
    assert first_row and "streaming…" in growing[first_row[0]]
    assert "booked Lost Heaven for 4" not in growing[first_row[0]]
    assert "booked Lost Heaven for 4" in ran.last_html


def test_ctrl_c_in_a_tool_loop_keeps_the_rounds_run_and_the_partial_answer(ip, ctrl_c):
    ip.run_cell(TOOLS)
    ctrl_c(after=1, stream_number=2)  # during the second round's answer
    ran = run(ip, TOOL_CELL)
    assert not ran.success and len(ran.lines) == 1 and ran.lines[0].startswith("stopped"), ran.lines
    assert ip.user_ns["r"].partial is True and ip.user_ns["r"].stop_reason == "stopped"
    assert "stopped" in ran.last_html and "get_weather" in ran.last_html  # the round that ran stays shown


def test_the_form_stream_stopped_by_ctrl_c_keeps_the_partial_answer(ip, ctrl_c):
    from dms_magic.notebook.form import form

    f = form(prompt=LONG_PROMPT)
    ctrl_c(after=3)
    result = f.stream()
    assert result is f.result and result.partial is True and result.stop_reason == "stopped" and result.text
    assert "stopped" in f.status.value
    assert "stopped" in f.output.outputs[0]["data"]["text/html"]


def test_ctrl_c_while_waiting_for_a_plain_answer_leaves_an_empty_partial_result(ip, monkeypatch):
    from dms_magic.client import DmsChatClient

    assert run(ip, "%%dmschat -o r\nfirst question").success
    original = DmsChatClient.chat

    def interrupted(self, *args, **kwargs):
        original(self, *args, **kwargs)  # the request went out; Ctrl-C lands while the cell waits
        raise KeyboardInterrupt

    monkeypatch.setattr(DmsChatClient, "chat", interrupted)
    ran = run(ip, "%%dmschat -o r\nsecond question")
    assert not ran.success and len(ran.lines) == 1 and ran.lines[0].startswith("stopped (Ctrl-C)")
    assert "nothing had arrived; r holds the empty result" in ran.lines[0]  # not "the partial answer (0 characters)"
    r = ip.user_ns["r"]
    assert r.partial is True and r.stop_reason == "stopped" and r.text == "" and r.partial_text == ""


def test_ctrl_c_while_a_tool_runs_ends_in_one_line_with_the_rounds_so_far(ip):
    # the kernel's SIGINT lands in whatever runs: here the tool, after the model asked for it
    ip.run_cell('def slow_lookup(city: str) -> str:\n    """Look a city up."""\n    raise KeyboardInterrupt\n'
                'tool_list = [slow_lookup]')
    ran = run(ip, '%%dmschat --tools $tool_list --run-tools -o t\ncall slow_lookup city="Hangzhou"')
    assert not ran.success
    assert len(ran.lines) == 1 and ran.lines[0].startswith("stopped (Ctrl-C)"), ran.lines
    assert "Traceback" not in ran.stdout + ran.stderr
    t = ip.user_ns["t"]  # the round's answer: the call the model asked for
    assert t.partial is True and t.stop_reason == "stopped" and [c.name for c in t.tool_calls] == ["slow_lookup"]
    card = ran.last_html
    assert "stopped" in card and "streaming…" not in card and "running…" not in card
    assert "slow_lookup" in card and "stopped (Ctrl-C) before it returned" in card


def test_a_finished_answer_has_partial_text_too(ip):
    assert run(ip, "%%dmschat -o done\nhello").success
    done = ip.user_ns["done"]
    assert done.partial is False and done.partial_text == done.text and done.text
