"""Issue 23 item 2, issue 24 item 9: Ctrl-C at any phase of a 2,000-prompt batch loses no answered
row, sends none twice on resume, and leaves the progress bar and the frame agreeing.

Interrupt points are sampled with a fixed seed: after the k-th request went out (the SIGINT comes
from a worker thread, as a terminal's does, while the dispatching thread waits), while the prompts
are planned, while an answer's leaks are found, and while the frame is built after the last
request. The calls go to an in-process client (thousands of runs' worth of requests in seconds);
one run goes over HTTP to the sandbox.
"""
from __future__ import annotations

import json
import os
import random
import re
import signal
import threading
import time
from collections import Counter

import pytest

from dms_magic import batch
from dms_magic.batch import chat_many
from dms_magic.wire.result import ChatResult

N = 2000
SEED = 20231208
PROMPTS = [f"第{i}号工单：客户手机1381234{i:04d}，请简短回复。" for i in range(N)]


def _press_ctrl_c():
    os.kill(os.getpid(), signal.SIGINT)


class FastClient:
    """Answers at once (or after ``delay`` s) with "ok <prompt>"; presses Ctrl-C when the
    ``interrupt_at``-th call starts; records every call and every answer it gave back."""

    def __init__(self, interrupt_at: int | None = None, delay: float = 0.0):
        self.calls: list[str] = []
        self.answered: list[str] = []
        self.lock = threading.Lock()
        self.interrupt_at, self.delay = interrupt_at, delay

    def chat(self, messages, **params):
        prompt = messages[-1]["content"]
        with self.lock:
            self.calls.append(prompt)
            press = len(self.calls) == self.interrupt_at
        if press:
            _press_ctrl_c()
        if self.delay:
            time.sleep(self.delay)
        result = ChatResult.from_response({"RequestId": f"R-{prompt}", "Success": True, "Data": {
            "Choices": [{"FinishReason": "stop", "Message": {"Content": f"ok {prompt}", "Role": "assistant"}}],
            "Usage": {"PromptTokens": "9", "CompletionTokens": "2", "TotalTokens": "11"}}})
        with self.lock:
            self.answered.append(prompt)
        return result


def _check_run(first, client, resumed_client, compare=False):
    """The invariants a user relies on after an interrupted run and its resume."""
    per_prompt = 2 if compare else 1
    in_frame = Counter(first["prompt"])
    # every prompt that went out is in the frame (answered, or outcome unknown): none would be resent
    for prompt, count in Counter(client.calls).items():
        assert in_frame[prompt] >= count, f"{prompt!r} was sent but is not in the frame"
    answered = first[first["error_code"].isna()]
    assert (answered["text"] == "ok " + answered["prompt"]).all()
    assert set(first["error_code"].dropna()) <= {"OutcomeUnknown"}
    assert first.attrs["not_sent"] == N * per_prompt - len(first)
    final = chat_many(PROMPTS, client=resumed_client, progress=False, resume=first, compare=compare,
                      **({"seed": 5} if compare else {}))
    assert len(final) == N * per_prompt
    sent = Counter(client.calls) + Counter(resumed_client.calls)
    assert max(sent.values()) <= per_prompt, "a prompt was sent twice"
    assert set(sent) == set(PROMPTS)  # and every prompt went out
    kept = final.loc[answered.index.unique()]
    assert set(kept["request_id"].dropna()) >= set(answered["request_id"])  # answered rows kept as they were
    assert final["error_code"].isin(["OutcomeUnknown"]).sum() == first.attrs["outcome_unknown"]


def test_random_interrupt_points_during_sending_lose_no_row_and_resend_none(capfd):
    rng = random.Random(SEED)
    for k in sorted(rng.sample(range(1, N), 6)):
        client = FastClient(interrupt_at=k, delay=rng.choice([0.0, 0.0005, 0.002]))
        first = chat_many(PROMPTS, client=client, concurrency=8, progress=True)
        err = capfd.readouterr().err
        assert first.attrs["interrupted"] is True, k
        notices = [line for line in err.splitlines() if line.startswith("chat_many stopped (Ctrl-C)")]
        assert len(notices) == 1 and "Traceback" not in err and "Warning" not in err
        shown = re.findall(r"(\d+)/2000", err.replace("\r", "\n"))
        assert shown and int(shown[-1]) == len(first), (shown[-3:], len(first))  # bar and frame agree
        _check_run(first, client, FastClient())


def test_interrupts_while_planning_finding_leaks_and_building_the_frame(monkeypatch, capsys):
    rng = random.Random(SEED + 1)
    real_values, real_assemble, real_messages = batch.sensitive_values, batch._assemble, batch.as_messages
    counter = {"n": 0}

    def pressing(real, at):
        def wrapper(*args, **kwargs):
            counter["n"] += 1
            if counter["n"] == at:
                _press_ctrl_c()
            return real(*args, **kwargs)
        return wrapper

    # while an answer's leaks are found (the k-th prompt's sensitive values)
    counter["n"] = 0
    monkeypatch.setattr(batch, "sensitive_values", pressing(real_values, rng.randrange(1, N)))
    client = FastClient()
    first = chat_many(PROMPTS, client=client, compare=True, seed=5, progress=False)
    assert first.attrs["interrupted"] is True
    assert first["leaks"].map(lambda v: isinstance(v, list)).all()  # every row's leaks found
    monkeypatch.setattr(batch, "sensitive_values", real_values)
    _check_run(first, client, FastClient(), compare=True)

    # after the last request, while the frame is built: the frame is complete
    counter["n"] = 0
    monkeypatch.setattr(batch, "_assemble", pressing(real_assemble, 1))
    capsys.readouterr()
    whole = chat_many(PROMPTS, client=FastClient(), progress=False)
    assert whole.attrs["interrupted"] is False and len(whole) == N and whole["error_code"].isna().all()
    assert "the frame is complete" in capsys.readouterr().err
    monkeypatch.setattr(batch, "_assemble", real_assemble)

    # while the prompts are planned: nothing is sent, the frame comes back empty and says so
    counter["n"] = 0
    monkeypatch.setattr(batch, "as_messages", pressing(real_messages, rng.randrange(1, N)))
    client = FastClient()
    nothing = chat_many(PROMPTS, client=client, progress=False)
    assert client.calls == [] and len(nothing) == 0
    assert nothing.attrs["interrupted"] is True and nothing.attrs["not_sent"] == N


@pytest.mark.slow
def test_ctrl_c_while_every_request_is_in_flight_returns_at_once():
    # The dispatching thread is waiting (where a KeyboardInterrupt used to land inside
    # threading.Condition.wait): the stop is seen there, no lock is left half released.
    client = FastClient(delay=1.0)
    timer = threading.Timer(0.3, _press_ctrl_c)
    timer.start()
    frame = chat_many(PROMPTS[:40], client=client, concurrency=8, progress=False)
    assert frame.attrs["interrupted"] is True
    assert len(frame) == 8 and (frame["error_code"] == "OutcomeUnknown").all()
    again = chat_many(PROMPTS[:40], client=client, concurrency=8, progress=False, resume=frame)
    assert len(again) == 40 and Counter(client.calls).most_common(1)[0][1] == 1


def test_an_interrupted_run_over_http_keeps_every_answer(sandbox, client_for):
    from dms_magic.client import DmsChatClient

    class Pressing:
        def __init__(self, inner, at):
            self.inner, self.at, self.n, self.lock = inner, at, 0, threading.Lock()

        def chat(self, messages, **params):
            with self.lock:
                self.n += 1
                press = self.n == self.at
            if press:
                _press_ctrl_c()
            return self.inner.chat(messages, **params)

    prompts = PROMPTS[:300]
    with client_for(sandbox) as inner:
        assert isinstance(inner, DmsChatClient)
        before = sandbox.accepted
        first = chat_many(prompts, client=Pressing(inner, random.Random(SEED).randrange(50, 250)), progress=False,
                          max_tokens=4)
        sent_first = sandbox.accepted - before
        assert first.attrs["interrupted"] is True
        assert sent_first <= len(first)  # everything the sandbox received is a row of the frame
        final = chat_many(prompts, client=inner, progress=False, resume=first, max_tokens=4)
        assert sandbox.accepted - before <= len(prompts)  # nothing sent twice: the unknown rows were kept
        assert len(final) == len(prompts) and final["error_code"].isna().sum() == len(prompts) \
            - first.attrs["outcome_unknown"]


def test_in_ipython_the_stop_is_one_line_and_the_variable_holds_the_frame(ip, capfd):
    # Issue 24 item 9: in a notebook the notice was a raw UserWarning repeating the cell's
    # temporary file name; and the assignment must happen (the frame is returned, not raised).
    ip.user_ns["FastClient"] = FastClient
    ip.user_ns["PROMPTS"] = PROMPTS
    result = ip.run_cell("import dms_magic\n"
                         "frame = dms_magic.chat_many(PROMPTS, client=FastClient(interrupt_at=300), progress=False)")
    assert result.success and result.error_in_exec is None
    frame = ip.user_ns["frame"]
    assert frame.attrs["interrupted"] is True and 300 <= len(frame) < N
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("chat_many stopped (Ctrl-C)"), err
    assert "Warning" not in err and "ipykernel" not in err and "<ipython-input" not in err


def test_the_jupyter_interrupt_button_keeps_the_frame_in_a_real_kernel(tmp_path, monkeypatch):
    # ipykernel's "interrupt" is a SIGINT to the kernel process, arriving while the cell runs
    # chat_many: the cell ends normally, `frame` holds the rows, one line says what is left.
    import sys

    from jupyter_client import KernelManager

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALIBABA_CLOUD_", "DMS_MAGIC_"))}
    env["PYTHONPATH"] = os.pathsep.join([root, str(tmp_path)])
    spec = tmp_path / "jupyter" / "kernels" / "dms-batch-test"  # this interpreter, whatever "python3" is
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "dms_magic tests", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    manager = KernelManager(kernel_name="dms-batch-test")
    manager.start_kernel(env=env, cwd=str(tmp_path))
    kernel = manager.client()
    kernel.start_channels()
    try:
        kernel.wait_for_ready(timeout=60)
        code = ("import time, dms_magic\n"
                "from test_batch_interrupt_phases_support import SlowClient\n"
                "client = SlowClient()\n"
                "frame = dms_magic.chat_many([f'p{i}' for i in range(400)], client=client, concurrency=4)\n"
                "print('ROWS', len(frame), frame.attrs['interrupted'], len(client.answered))")
        (tmp_path / "test_batch_interrupt_phases_support.py").write_text(SUPPORT, encoding="utf-8")
        msg_id = kernel.execute(code)
        marker = tmp_path / "answered-20"  # the run is going (400 prompts at 0.05 s, 4 at a time: 5 s)
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        manager.interrupt_kernel()
        reply = kernel.get_shell_msg(timeout=60)
        while reply["parent_header"].get("msg_id") != msg_id:  # the kernel_info reply of wait_for_ready
            reply = kernel.get_shell_msg(timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]
        streams = {"stdout": "", "stderr": ""}
        while True:
            msg = kernel.get_iopub_msg(timeout=10)
            if msg["msg_type"] == "stream":
                streams[msg["content"]["name"]] += msg["content"]["text"]
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle" \
                    and msg["parent_header"].get("msg_id") == msg_id:
                break
        rows = re.search(r"ROWS (\d+) True (\d+)", streams["stdout"])
        assert rows and int(rows.group(1)) >= int(rows.group(2)) >= 20, streams  # every answer is a row
        notices = [line for line in streams["stderr"].splitlines() if line.startswith("chat_many stopped (Ctrl-C)")]
        assert len(notices) == 1 and "Warning" not in streams["stderr"] and "ipykernel_" not in streams["stderr"]
    finally:
        kernel.stop_channels()
        manager.shutdown_kernel(now=True)


SUPPORT = '''
import threading, time
from dms_magic.wire.result import ChatResult

class SlowClient:
    def __init__(self):
        self.answered, self.lock = [], threading.Lock()

    def chat(self, messages, **params):
        time.sleep(0.05)
        prompt = messages[-1]["content"]
        with self.lock:
            self.answered.append(prompt)
            if len(self.answered) == 20:
                open("answered-20", "w").close()
        return ChatResult.from_response({"RequestId": "R", "Success": True, "Data": {"Choices": [
            {"FinishReason": "stop", "Message": {"Content": "ok " + prompt, "Role": "assistant"}}]}})
'''
