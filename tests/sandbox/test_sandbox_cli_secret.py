"""Issue 12, item 10 (sandbox): the command-line sandbox takes its secret from a file or the
environment, so it need not appear in ``ps``; --help says so."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from urllib.parse import urlencode

import pytest
import requests

from dms_magic import defaults as D
from dms_magic.wire import signing

SECRET = "SENTINEL-cli-file-secret-5d20"


def _serve(args, env=None):
    process = subprocess.Popen([sys.executable, "-m", "dms_magic.sandbox", "--port", "0", *args],
                               env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    url = process.stdout.readline().split()[-1]
    key_id = process.stdout.readline().split()[-1]
    source = process.stdout.readline()
    return process, url, key_id, source


def _answers_with(url, key_id, secret) -> int:
    port = int(url.rsplit(":", 1)[1])
    body = urlencode({"Messages": json.dumps([{"role": "user", "content": "hi"}])}).encode()
    headers = signing.sign_headers("POST", "/", {"InstanceId": "1"}, body, f"127.0.0.1:{port}", D.ACTION,
                                   D.API_VERSION, key_id, secret)
    return requests.post(f"{url}/?InstanceId=1", data=body, headers=headers, timeout=30).status_code


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/PID/cmdline")
def test_the_secret_can_come_from_a_file_and_stays_out_of_the_command_line(tmp_path):
    # ($DMS_MAGIC_SANDBOX_SECRET worked before; a file is the new way that needs no environment.)
    path = tmp_path / "secret"
    path.write_text(SECRET + "\n")
    process, url, key_id, source = _serve(["--access-key-secret-file", str(path)], {"DMS_MAGIC_SANDBOX_SECRET": ""})
    try:
        assert "not shown" in source and SECRET not in source
        with open(f"/proc/{process.pid}/cmdline", "rb") as cmdline:
            assert SECRET.encode() not in cmdline.read()  # what `ps` shows
        assert _answers_with(url, key_id, SECRET) == 200
        assert _answers_with(url, key_id, "another secret") == 400
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert SECRET not in output


def test_help_names_the_safer_ways():
    text = subprocess.run([sys.executable, "-m", "dms_magic.sandbox", "--help"], capture_output=True, text=True,
                          timeout=60).stdout
    assert "--access-key-secret-file" in text and "DMS_MAGIC_SANDBOX_SECRET" in text and "ps" in text


def test_an_empty_secret_file_is_a_one_line_error(tmp_path):
    path = tmp_path / "empty"
    path.write_text("")
    result = subprocess.run([sys.executable, "-m", "dms_magic.sandbox", "--port", "0", "--access-key-secret-file",
                             str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "is empty" in result.stderr and "Traceback" not in result.stderr
