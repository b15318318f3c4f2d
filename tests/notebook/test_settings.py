"""One settings store, owned by the session: what `%config DmsChatMagics.x`, `%dmschat config` and
`dms_magic.configure` set is what the magic's card, the form's card and Python read. Through a real
InteractiveShell and the sandbox over HTTP."""
from __future__ import annotations

import pytest
from IPython.utils.capture import capture_output

import dms_magic
from dms_magic import session

pytestmark = pytest.mark.usefixtures("to_sandbox")


def _card(ip, source: str) -> str:
    with capture_output() as captured:
        result = ip.run_cell(source)
    assert result.success, result.error_in_exec or result.error_before_exec
    return "\n".join(o.data.get("text/html", "") for o in captured.outputs)


def test_configure_from_python_reaches_the_magic_and_the_form(ip):
    assert "prompt_tokens" in _card(ip, "%%dmschat\nhi")
    dms_magic.configure(show_usage=False)
    assert session.display_settings()["show_usage"] is False
    assert "prompt_tokens" not in _card(ip, "%%dmschat\nhi")
    f = dms_magic.form(prompt="hi")
    f.send()
    assert "prompt_tokens" not in f.output.outputs[0]["data"]["text/html"] and f.result.usage_dict


def test_the_magic_writes_the_same_store(ip):
    ip.run_line_magic("dmschat", "config show_usage=false stream_update_interval=0 model=qwen-max")
    assert session.display_settings()["show_usage"] is False
    assert session.display_settings()["stream_update_interval"] == 0
    assert session.configured()["model"] == "qwen-max"
    ip.run_line_magic("config", "DmsChatMagics.show_usage = True")
    assert session.display_settings()["show_usage"] is True
    dms_magic.configure(show_usage=False)  # Python after the magic: the card follows the store
    assert "prompt_tokens" not in _card(ip, "%%dmschat\nhi")
    ip.run_line_magic("dmschat", "config show_usage=")  # back to the default, wherever it was set
    assert session.display_settings()["show_usage"] is True
    ip.config.get("DmsChatMagics", {}).pop("show_usage", None)


def test_interpolation_is_a_setting_too(ip):
    ip.user_ns["city"] = "Paris"
    dms_magic.configure(interpolate=False)
    _card(ip, "%%dmschat -o r\nweather in {city}")
    assert ip.user_ns["r"].request.messages[-1]["content"] == "weather in {city}"


def test_a_bad_display_value_names_the_setting():
    with pytest.raises(dms_magic.SettingsError, match="stream_update_interval='soon' is invalid"):
        dms_magic.configure(stream_update_interval="soon")
    with pytest.raises(dms_magic.SettingsError, match="show_usage='maybe' is invalid: expected true or false"):
        dms_magic.configure(show_usage="maybe")
