"""The dry run's prompt-token estimate is the sandbox's count, exactly: both read a message's text
with the one ``content_text`` and count it with the one tokeniser (images as Qwen-VL counts them).
Through a real InteractiveShell (``%%dmschat --messages VAR --dry-run``, then the same cell sent) and the sandbox over HTTP.
"""
from __future__ import annotations

import base64
import io

import pytest
from IPython.utils.capture import capture_output
from PIL import Image

pytestmark = pytest.mark.usefixtures("to_sandbox")


def _png() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 30, 30)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


CONVERSATIONS = {
    "strings": [{"role": "system", "content": "You answer briefly."},
                {"role": "user", "content": "我的名字是张伟, and my order is 12345."}],
    # Two text parts that would glue into one word if joined without a separator ("alpha" "beta"),
    # and a part of another type (the sandbox reads it as "[input_audio]").
    "part list": [{"role": "user", "content": [{"type": "text", "text": "alpha"}, {"type": "text", "text": "beta"},
                                               {"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}]}],
    "image": [{"role": "user", "content": [{"type": "text", "text": "What is in 这张图?"},
                                           {"type": "image_url", "image_url": {"url": _png()}}]}],
}


def _cell(ip, source: str):
    with capture_output() as captured:
        result = ip.run_cell(source)
    assert result.success, result.error_in_exec or result.error_before_exec
    return "\n".join(str(o.data.get("text/plain", "")) for o in captured.outputs)


@pytest.mark.parametrize("name", list(CONVERSATIONS))
def test_dry_run_estimate_is_the_sandbox_count(ip, name):
    ip.user_ns["conversation"] = CONVERSATIONS[name]
    shown = _cell(ip, "%%dmschat --messages conversation --dry-run\nok")
    estimate = int(shown.split("~", 1)[1].split(" ", 1)[0])
    _cell(ip, "%%dmschat --messages conversation --quiet -o answer\nok")
    assert ip.user_ns["answer"].usage_dict["prompt_tokens"] == estimate
    assert estimate > 0
