"""The one turn both front ends use: the workspace they share, and a client's progress reports shown
as the status line until the answer comes (for clients that report progress)."""
from __future__ import annotations

import pytest

from dms_magic.notebook import turn

pytestmark = pytest.mark.usefixtures("to_sandbox")


class Recording:
    def __init__(self):
        self.shown = []

    def show(self, data, metadata=None):
        self.shown.append(data)


def test_progress_reports_show_as_the_status_line_before_the_answer(sandbox):
    from dms_magic.client import DmsChatClient

    class Reporting(DmsChatClient):  # a client that reports progress (keyword progress=)
        def stream(self, messages, progress=None, **params):
            progress("connecting to the sandbox…")
            return super().stream(messages, **params)

    surface = Recording()
    with Reporting(sandbox.url, access_key_id=sandbox.access_key_id, access_key_secret=sandbox.access_key_secret,
                   instance_id=1) as client:
        outcome = turn.run(turn.Turn(messages=[{"role": "user", "content": "hi"}], params={}, client=client,
                                     stream=True), surface)
    assert outcome.state == turn.FINISHED
    assert "connecting to the sandbox…" in surface.shown[0]["text/plain"]
    assert "connecting" not in surface.shown[-1]["text/html"]  # the answer replaced it


def test_the_form_and_the_magic_share_one_workspace(ip):
    from dms_magic.notebook.form import form

    magics = ip.magics_manager.registry["DmsChatMagics"]
    assert turn.workspace() is magics.workspace
    f = form(prompt="hello", conversation=True)
    f.send()
    assert magics.histories["form"][-2]["content"] == "hello"  # %dmschat history form shows it
