"""chat_many against the sandbox over HTTP: no row lost under faults and throttling, resume,
carried-through columns, compare mode, Ctrl-C, executors, rate cap, bad input."""
from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from helpers.scripted import with_settings
from dms_magic.batch import answer_similarity, chat_many, leak_counts, summarize, token_deltas
from dms_magic.client import DmsChatClient
from dms_magic.comparison import similarity as word_similarity
from dms_magic import InvalidParameterError
from dms_magic.sandbox import FaultConfig, start

RESULT_COLUMNS = ["prompt", "text", "finish_reason", "prompt_tokens", "completion_tokens", "latency",
                  "request_id", "error_code", "error_message"]


def _client(sandbox, **kwargs) -> DmsChatClient:
    return DmsChatClient(sandbox.url, access_key_id=sandbox.access_key_id,
                         access_key_secret=sandbox.access_key_secret, instance_id=1, **with_settings(kwargs))


def _prompts(n: int) -> list[str]:
    return [f"第{i}号工单：客户手机1381234{i:04d}，请简短回复。" for i in range(n)]


def _api_requests(sandbox) -> int:
    """How many API requests the sandbox accepted (a counter that, unlike its journal, has no cap)."""
    return sandbox.accepted


@pytest.mark.slow
def test_200_prompts_under_errors_and_throttling_lose_no_row(caplog):
    caplog.set_level(logging.INFO, logger="dms_magic.client")  # the client logs each retry
    prompts = _prompts(200)
    with start(faults=FaultConfig(error_rate=0.1, throttle_qps=100, latency_ms=5), seed=11) as sandbox, _client(sandbox) as client:
        frame = chat_many(prompts, client=client, concurrency=8, progress=False, max_tokens=8)
    assert len(frame) == 200
    assert list(frame["prompt"]) == prompts and list(frame.index) == list(range(200))
    assert list(frame.columns) == RESULT_COLUMNS
    answered = frame["error_code"].isna()
    assert answered.sum() >= 190
    assert frame.loc[answered, "text"].map(lambda t: isinstance(t, str) and len(t) > 0).all()
    assert frame.loc[answered, "request_id"].notna().all()
    assert (frame.loc[answered, "completion_tokens"] > 0).all()
    failed = frame[~answered]
    assert failed["error_message"].notna().all()
    assert failed["text"].isna().all()
    retried = " ".join(r.getMessage() for r in caplog.records)
    assert "Throttling" in retried and "ServiceUnavailable" in retried  # both faults really happened


def test_failed_rows_record_code_and_message_and_the_run_goes_on():
    # No client retries and many injected 503s: plenty of error rows, none raised.
    with start(faults=FaultConfig(error_rate=0.5), seed=3) as sandbox, _client(sandbox, max_retries=0) as client:
        frame = chat_many(_prompts(30), client=client, concurrency=4, progress=False, max_tokens=8)
    assert len(frame) == 30
    failed = frame[frame["error_code"].notna()]
    assert len(failed) > 0 and len(failed) < 30
    assert set(failed["error_code"]) == {"ServiceUnavailable"}
    assert failed["error_message"].map(bool).all()


def test_resume_sends_only_the_rows_not_yet_answered():
    prompts = _prompts(40)
    with start(faults=FaultConfig(error_rate=0.4), seed=5) as faulty, _client(faulty, max_retries=0) as client:
        first = chat_many(prompts, client=client, concurrency=4, progress=False, max_tokens=8)
    missing = int(first["error_code"].notna().sum())
    assert missing > 0
    with start() as healthy, _client(healthy) as client:
        second = chat_many(prompts, client=client, concurrency=4, progress=False, resume=first, max_tokens=8)
        sent = _api_requests(healthy)
    assert sent == missing
    assert second["error_code"].isna().all()
    assert second.attrs["reused"] == 40 - missing
    kept = first["error_code"].isna()
    pd.testing.assert_frame_equal(second[kept], first[kept], check_dtype=False)


def test_dataframe_column_carries_the_other_columns_and_the_index(sandbox, client):
    tickets = pd.DataFrame({
        "ticket": ["T-1", "T-2", "T-3"],
        "channel": ["phone", "email", "chat"],
        "question": ["订单没到", "发票抬头错了", "退款进度"],
        "priority": [1, 2, 3],
    }).set_index("ticket")
    frame = chat_many(tickets, column="question", client=client, progress=False, max_tokens=8)
    assert list(frame.index) == ["T-1", "T-2", "T-3"] and frame.index.name == "ticket"
    assert list(frame["channel"]) == ["phone", "email", "chat"]
    assert list(frame["priority"]) == [1, 2, 3]
    assert list(frame["prompt"]) == list(tickets["question"])
    assert frame["error_code"].isna().all()


def test_series_keeps_its_index(client):
    series = pd.Series(["你好", "hello"], index=["a", "b"])
    frame = chat_many(series, client=client, progress=False, max_tokens=8)
    assert list(frame.index) == ["a", "b"]
    assert frame["text"].map(bool).all()


def test_compare_mode_gives_both_variants_with_leaks_and_summaries(sandbox, client):
    prompts = ["我叫张伟，手机号13812345678。", "邮箱 li.na@example.com，请回复。", "今天天气很好。"]
    frame = chat_many(prompts, client=client, compare=True, progress=False, max_tokens=80)
    assert len(frame) == 6
    assert list(frame["variant"]) == ["unmasked", "masked"] * 3
    pairs = frame.groupby(level=0)["seed"].nunique()
    assert (pairs == 1).all()  # both variants of a prompt share one seed
    counts = leak_counts(frame)
    assert counts.loc[0, "unmasked"] >= 1 and counts.loc[0, "masked"] == 0
    assert counts["masked"].sum() == 0  # the model never saw the values: the answers cannot hold them
    assert counts.loc[2].sum() == 0
    summary = summarize(frame)
    assert list(summary.index) == ["unmasked", "masked"]
    assert summary.loc["masked", "answered"] == 3
    assert summary.loc["unmasked", "leaks"] == counts["unmasked"].sum()
    deltas = token_deltas(frame)
    assert list(deltas.index) == [0, 1, 2]
    row = frame[frame["variant"] == "masked"].iloc[0]
    assert deltas.loc[0, "prompt_tokens_masked"] == row["prompt_tokens"]
    similarity = answer_similarity(frame)
    assert similarity.between(0, 1).all() and list(similarity.index) == [0, 1, 2]
    texts = frame.loc[2, "text"]
    assert similarity.loc[2] == pytest.approx(word_similarity(texts.iloc[0], texts.iloc[1]))


def test_ctrl_c_returns_the_rows_finished_so_far_and_resume_completes_them(sandbox, capsys):
    class InterruptAfterThree:
        """A real client that presses Ctrl-C once three answers have come back."""

        def __init__(self, inner):
            self.inner, self.answers, self.lock = inner, 0, threading.Lock()

        def chat(self, messages, **params):
            result = self.inner.chat(messages, **params)
            with self.lock:
                self.answers += 1
                if self.answers == 3:
                    os.kill(os.getpid(), signal.SIGINT)
            return result

    prompts = _prompts(60)
    with start(faults=FaultConfig(latency_ms=30)) as slow, _client(slow) as inner:
        partial = chat_many(prompts, client=InterruptAfterThree(inner), concurrency=2, progress=False,
                            max_tokens=8)
        assert "resume=" in capsys.readouterr().err  # the one-line notice says how to finish
        assert partial.attrs["interrupted"] is True
        assert 1 <= len(partial) < 60
        # each row is answered, or was in flight: outcome unknown (it may have been answered and billed)
        assert set(partial["error_code"].dropna()) <= {"OutcomeUnknown"}
        unknown = int((partial["error_code"] == "OutcomeUnknown").sum())
        assert partial.attrs["outcome_unknown"] == unknown
        done = chat_many(prompts, client=inner, concurrency=4, progress=False, resume=partial, max_tokens=8)
        assert len(done) == 60 and done.attrs["reused"] == len(partial)  # outcome-unknown rows not resent
        assert int((done["error_code"] == "OutcomeUnknown").sum()) == unknown
        assert done["error_code"].isna().sum() == 60 - unknown
        sent = slow.accepted
        again = chat_many(prompts, client=inner, progress=False, resume=done, resend_unknown=True, max_tokens=8)
        assert slow.accepted - sent == unknown  # asked to: exactly those are sent again
    assert len(again) == 60 and again["error_code"].isna().all()


def test_any_executor_can_run_the_calls_and_stays_usable(client):
    with ThreadPoolExecutor(max_workers=3) as pool:
        frame = chat_many(_prompts(6), client=client, executor=pool, progress=False, max_tokens=8)
        assert pool.submit(lambda: 42).result() == 42  # chat_many did not shut the caller's pool down
    assert frame["error_code"].isna().all() and len(frame) == 6


class CountingClient:
    """A real client that counts the error codes its calls raise."""

    def __init__(self, inner):
        self.inner, self.codes, self.lock = inner, [], threading.Lock()

    def chat(self, messages, **params):
        try:
            return self.inner.chat(messages, **params)
        except Exception as exc:
            with self.lock:
                self.codes.append(getattr(exc, "code", type(exc).__name__))
            raise


def test_rate_cap_keeps_a_run_under_the_services_limit():
    # The service throttles beyond 10 requests/s (14 uncapped requests with 6 in flight get
    # throttled, see the next test); with rate=8 no request ever is.
    with start(faults=FaultConfig(throttle_qps=10)) as sandbox, _client(sandbox, max_retries=0) as inner:
        counting = CountingClient(inner)
        frame = chat_many(_prompts(14), client=counting, concurrency=6, rate=8, progress=False, max_tokens=8)
    assert frame["error_code"].isna().all()
    assert counting.codes == []


def test_throttled_rows_are_paused_and_sent_again_not_lost():
    # No cap, no client retries: 14 requests, 6 in flight, against 10 requests/s get Throttling
    # replies; chat_many slows the run down and sends those rows again.
    with start(faults=FaultConfig(throttle_qps=10)) as sandbox, _client(sandbox, max_retries=0) as inner:
        counting = CountingClient(inner)
        frame = chat_many(_prompts(14), client=counting, concurrency=6, progress=False, max_tokens=8)
    assert any(code.startswith("Throttling") for code in counting.codes)
    assert frame["error_code"].isna().all()


def test_progress_bar_runs(client, capsys):
    frame = chat_many(_prompts(3), client=client, progress=True, max_tokens=8)
    assert len(frame) == 3
    assert "3/3" in capsys.readouterr().err


def test_bad_input_is_one_clear_error():
    with start() as sandbox, _client(sandbox) as client:
        _check_bad_input(client)
        assert _api_requests(sandbox) == 0  # nothing was sent


def _check_bad_input(client):
    with pytest.raises(ValueError, match="many prompts"):
        chat_many("just one prompt", client=client)
    with pytest.raises(ValueError, match="column="):
        chat_many(pd.DataFrame({"q": ["a"]}), client=client)
    with pytest.raises(ValueError, match="'nope' is not a column"):
        chat_many(pd.DataFrame({"q": ["a"]}), column="nope", client=client)
    with pytest.raises(ValueError, match="concurrency"):
        chat_many(["a"], client=client, concurrency=0)
    with pytest.raises(ValueError, match="rate"):
        chat_many(["a"], client=client, rate=0)
    with pytest.raises(InvalidParameterError, match="temperature"):
        chat_many(["a", "b"], client=client, temperature=5, progress=False)
    with pytest.raises(ValueError, match="clash"):
        chat_many(pd.DataFrame({"q": ["a"], "text": ["x"]}), column="q", client=client)


def test_a_malformed_prompt_is_its_rows_error(client):
    frame = chat_many(["你好", 12345], client=client, progress=False, max_tokens=8)
    assert frame.loc[0, "error_code"] is None or pd.isna(frame.loc[0, "error_code"])
    assert frame.loc[1, "error_code"] == "InvalidParameter"
    assert "messages" in frame.loc[1, "error_message"]


def test_a_process_pool_runs_the_calls_with_each_workers_default_client(sandbox, monkeypatch):
    # What a distributed executor (Dask's) does: calls run in other processes, which resolve their
    # own client from the environment, since a client (connections, credential provider) does not
    # travel between processes.
    from concurrent.futures import ProcessPoolExecutor

    monkeypatch.setenv("DMS_MAGIC_ENDPOINT", sandbox.url)
    monkeypatch.setenv("DMS_MAGIC_INSTANCE_ID", "1")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", sandbox.access_key_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", sandbox.access_key_secret)
    # spawn: fresh worker processes, as on another machine (fork would copy this process's threads' locks)
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        frame = chat_many(_prompts(4), executor=pool, progress=False, max_tokens=8)
    assert frame["error_code"].isna().all(), frame["error_message"].tolist()
    arrived = {entry["request_id"] for entry in sandbox.received}
    assert set(frame["request_id"]) <= arrived  # the workers really called this sandbox


def test_a_client_that_cannot_travel_to_a_process_pool_is_a_clear_error(client):
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1) as pool, pytest.raises(ValueError, match="client=None"):
        chat_many(["a"], client=client, executor=pool, progress=False)


def test_resume_must_match_the_compare_mode(client):
    plain = chat_many(["你好"], client=client, progress=False, max_tokens=8)
    with pytest.raises(ValueError, match="compare=False"):
        chat_many(["你好"], client=client, compare=True, resume=plain, progress=False)


def test_auth_errors_are_rows_and_never_show_the_secret(sandbox):
    wrong = "WRONG-secret-sentinel-7c1e"
    with DmsChatClient(sandbox.url, access_key_id=sandbox.access_key_id, access_key_secret=wrong,
                       instance_id=1) as bad:
        frame = chat_many(["a", "b"], client=bad, progress=False)
    assert set(frame["error_code"]) == {"SignatureDoesNotMatch"}
    shown = frame.to_string() + repr(frame.to_dict()) + frame.to_html()
    assert wrong not in shown and sandbox.access_key_secret not in shown
