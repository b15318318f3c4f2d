"""The live card (notebook.display.StreamView) as the notebook's turn drives it: a status line
before any text, text from a real sandbox stream, then an ending — finished, or stopped /
interrupted with the text so far kept as a partial ChatResult. The card is never left on
"streaming…"."""
from __future__ import annotations

from types import SimpleNamespace

from IPython.utils.capture import capture_output

from dms_magic.notebook.display import StreamView


def _cards(shown) -> list[str]:
    return [o.data["text/html"] for o in shown.outputs if "dms-chat-result" in o.data.get("text/html", "")]


def _view(stream) -> StreamView:
    return StreamView(backend="sandbox", model="qwen-plus", masked=True, request=stream.request, every=0)


def test_a_status_line_shows_before_the_first_text_and_goes_when_text_arrives(ip, client):
    with capture_output() as shown:
        with client.stream("我叫张伟，手机号13812345678，请写一段话。", need_desensitization=True,
                           desensitization_rule="UserInfo") as stream:
            view = _view(stream)
            view.progress(SimpleNamespace(kind="connecting"), where="sandbox")
            view.progress(SimpleNamespace(kind="retry", attempt=2, max_attempts=10, reason="HTTP 503", delay_s=1.2))
            for chunk in stream:
                view.add(chunk)
            view.finish(stream.result)
    cards = _cards(shown)
    assert "connecting to sandbox…" in cards[0] and "streaming…" in cards[0]  # the card appears at once
    assert "retry 2 of 10 after HTTP 503 (waiting 1.2 s)…" in cards[1]
    assert all("retry" not in card for card in cards[2:])  # the first text replaces the status line
    assert "streaming…" not in cards[-1] and 'data-state="finished"' in cards[-1]
    assert "what the model saw" in cards[-1] and "138****5678" in cards[-1]


def test_stopping_keeps_the_text_so_far_as_a_partial_result(ip, client):
    with capture_output() as shown:
        with client.stream("Please write a long letter.", max_tokens=200) as stream:
            view = _view(stream)
            for i, chunk in enumerate(stream):
                view.add(chunk)
                if i == 3:
                    break  # where Ctrl-C would land
            partial = view.stop("stopped")
    cards = _cards(shown)
    assert partial.partial is True and partial.stop_reason == "stopped"
    assert partial.text and partial.text == view.partial.text and partial.request is stream.request
    assert 'data-state="stopped"' in cards[-1] and "■ stopped" in cards[-1] and "streaming…" not in cards[-1]
    assert f"the {len(partial.text):,} characters received are kept" in cards[-1]
    assert shown.outputs[-1].data["text/plain"].splitlines()[0].endswith("stopped (partial)")


def test_an_interrupted_stream_says_why_in_one_line_and_a_note_never_shows_a_secret(ip, client, monkeypatch):
    monkeypatch.setenv("DMS_TEST_SECRET_TOKEN", "s3cr3t-value-xyz")
    with capture_output() as shown:
        with client.stream("hello") as stream:
            view = _view(stream)
            view.add(next(iter(stream)))
            result = view.stop("interrupted", note="The connection closed mid-answer (s3cr3t-value-xyz).")
    card = _cards(shown)[-1]
    assert result.stop_reason == "interrupted" and "⚡ interrupted" in card
    assert "The connection closed mid-answer (****)." in card and "s3cr3t" not in card
