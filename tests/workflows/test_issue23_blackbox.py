"""Issue 23 black-box re-attack (items 1 and 6 only; the session ran out of time for the rest).

Public API and a real InteractiveShell only; loopback only.
"""
import io
import os
import contextlib

import pytest

pytestmark = pytest.mark.blackbox

SECRET = "bbSecretValue23XYZ"


def _shell_run(ip, code):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        ip.run_cell(code)
    return out.getvalue()


@pytest.mark.parametrize("args", [
    "'ftp://127.0.0.1:1', access_key_id='LTAIx', access_key_secret=_bb_s(), instance_id=1",
    "'http://127.0.0.1:1', access_key_id='LTAIx', access_key_secret=_bb_s() + '\\n', instance_id=1",
    # finding (fixed): the userinfo endpoint was refused, but the __init__ frame printed it in full
    "'http://u:' + _bb_s() + '@127.0.0.1:1', access_key_id='LTAIx', access_key_secret=_bb_s(), instance_id=1",
])
def test_failing_constructor_under_verbose_xmode_hides_secret(ip, args):
    """Item 1/6: a failing DmsChatClient(...) under %xmode Verbose shows no secret."""
    ip.run_line_magic("xmode", "Verbose")
    try:
        ip.user_ns["_bb_s"] = lambda: SECRET
        text = _shell_run(ip, f"import os\nfrom dms_magic.client import DmsChatClient\nDmsChatClient({args})")
    finally:
        ip.run_line_magic("xmode", "Context")
        ip.user_ns.pop("_bb_s", None)
    assert "Error" in text  # it did fail
    assert SECRET not in text
