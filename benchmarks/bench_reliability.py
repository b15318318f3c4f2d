"""Issue 23's figures: what hostile input costs in time and memory (items 3, 7, 11, 12, 13).

    python benchmarks/bench_reliability.py                 # every case, each in a fresh interpreter
    python benchmarks/bench_reliability.py image_devzero   # one case

Each case runs in its own interpreter (``--case NAME``), so its peak RSS (``ru_maxrss``) and the
growth it leaves are its own. To get the "before" column, run this same file with PYTHONPATH
pointing at a checkout of the commit before the fixes (it uses only APIs both have): e.g.
``git archive 59809ca dms_magic | tar -x -C /tmp/base`` then ``PYTHONPATH=/tmp/base python ...``.
Sizes are scaled down where the old code would take minutes or the machine's memory (the note
says how); the issue's own figures were taken at the full sizes.
"""
from __future__ import annotations

import io
import json
import os
import random
import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' image maker
from helpers.images import blank_png  # noqa: E402
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def _rss_mb() -> float:
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("VmRSS:")) / 1024


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn):
    start_rss, started = _rss_mb(), time.perf_counter()
    try:
        outcome = fn()
    except BaseException as exc:  # noqa: BLE001 - the outcome is part of the figure
        outcome = f"{type(exc).__name__}: {str(exc)[:90]}"
    return {"seconds": round(time.perf_counter() - started, 3), "peak_mb": round(_peak_mb()),
            "rss_growth_mb": round(_rss_mb() - start_rss), "outcome": str(outcome)[:120]}


# -- item 3: image files ---------------------------------------------------------------------------
def case_image_devzero():
    """--image /dev/zero, capped at 1 GB of address space (the old code reads until out of memory)."""
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    from dms_magic.images import image_part

    return _timed(lambda: image_part("/dev/zero"))


def case_image_large_file():
    """A sparse 400 MB file with a PNG header (the issue used 1.5 GB)."""
    from dms_magic.images import image_part

    path = os.path.join(tempfile.mkdtemp(), "big.png")
    with open(path, "wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x02\0\0\0")
        handle.truncate(400_000_000)
    try:
        return _timed(lambda: image_part(path))
    finally:
        os.remove(path)


def case_image_pil_lazy():
    """A lazily opened 12000x12000 PNG (0.1 MB on disk) given as a PIL image."""
    from PIL import Image

    from dms_magic.images import image_part

    path = os.path.join(tempfile.mkdtemp(), "scan.png")
    with open(path, "wb") as handle:
        handle.write(blank_png(12000, 12000))
    image = Image.open(path)
    return _timed(lambda: len(image_part(image)["image_url"]["url"]))


# -- item 7: the sandbox's tool matcher ------------------------------------------------------------
def _matcher(prompt_bytes: int):
    from dms_magic.sandbox.multimodal import tool_call_for

    tools = [{"type": "function", "function": {"name": f"tool_{i}_lookup", "parameters": {
        "type": "object", "properties": {"q": {"type": "string"}}}}} for i in range(350)]
    rng = random.Random(7)
    words = ["alpha", "beta", "gamma", "lookup", "tool", "数据", "12345", "get_weather"]
    text = " ".join(rng.choice(words) for _ in range(prompt_bytes // 6)) + " call tool_349_lookup q=x"
    return _timed(lambda: tool_call_for(tools, [{"role": "user", "content": text}])["function"]["name"])


def case_tools_350x250k():
    """350 tools x a 0.25 MB prompt (the old code: ~10 s here, 270 s at 10 MB)."""
    return _matcher(250_000)


def case_tools_350x10m():
    """350 tools x a 10 MB prompt (run this one after the fix only: the old code takes minutes)."""
    return _matcher(10_000_000)


# -- items 11 and 12: through a real IPython shell against the in-process sandbox --------------------
def _shell():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "dms_magic")
    return shell


def _run_cell(shell, source: str) -> dict:
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        result = shell.run_cell(source)
    output = sum(len(json.dumps(o.data)) for o in captured.outputs) + len(captured.stdout) + len(captured.stderr)
    return {"ok": result.success, "output_bytes": output}


def case_output_images():
    """Three 3.5 MB PNGs sent: bytes of cell output (what the notebook saves and the browser renders)."""
    from PIL import Image

    shell = _shell()
    shots = []
    for seed in range(3):
        buffer = io.BytesIO()
        Image.frombytes("RGB", (1250, 940), random.Random(seed).randbytes(1250 * 940 * 3)).save(buffer, "PNG")
        shots.append(buffer.getvalue())
    shell.user_ns["shots"] = shots
    return _timed(lambda: _run_cell(shell, "%%dmschat --image $shots\nWhat do these show?"))


def case_output_tool_arguments():
    """A 5 MB argument written by the model into a tool call: bytes of cell output."""
    shell = _shell()
    shell.run_cell("def echo(text: str) -> str:\n    'Say it back.'\n    return text[:10]\ntools = [echo]")
    long_text = "lorem ipsum " * 420_000
    return _timed(lambda: _run_cell(shell, f'%%dmschat --tools $tools\necho text="{long_text}"'))


def case_cell_33mb():
    """A 33 MB single-line cell (too large to send): time and memory until it is refused."""
    shell = _shell()
    cell = ("call me at 13812345678 today " * (33_000_000 // 29 + 1))[:33_000_000]
    return _timed(lambda: _run_cell(shell, "%%dmschat\n" + cell))


def case_cell_3500k_send():
    """A 3.5 M-character line sent to the in-process sandbox (masking off)."""
    shell = _shell()
    cell = ("plain words of a long pasted log line " * (3_500_000 // 38 + 1))[:3_500_000]
    return _timed(lambda: _run_cell(shell, "%%dmschat\n" + cell))


# -- item 13: the sandbox reading bodies before authenticating ------------------------------------
def case_sandbox_unsigned_bodies():
    """32 unsigned 16 MiB bodies, 16 at a time, to an in-process sandbox: the RSS they leave."""
    import socket

    from dms_magic.sandbox import start

    body = b"Messages=" + b"x" * (16 * 1024 * 1024 - 20)

    def send(sandbox):
        head = (f"POST /?InstanceId=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nx-acs-action: ChatWithDesensitize\r\n"
                f"x-acs-version: 2018-11-01\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        with socket.create_connection((sandbox.host, sandbox.port), timeout=60) as conn:
            conn.sendall(head)
            conn.sendall(body)
            while conn.recv(65536):
                pass

    with start() as sandbox:
        def flood():
            threads = [threading.Thread(target=send, args=(sandbox,)) for _ in range(32)]
            for index in range(0, 32, 16):
                for thread in threads[index:index + 16]:
                    thread.start()
                for thread in threads[index:index + 16]:
                    thread.join()
            return "32 refused"

        send(sandbox)  # warm-up: imports and first buffers are not what is measured
        return _timed(flood)


CASES = {name[5:]: fn for name, fn in dict(globals()).items() if name.startswith("case_")}


def run(selected: list[str] | None = None) -> list[dict]:
    rows = []
    for name in selected or CASES:
        # a clean configuration: no keys, no endpoint, so the magic uses the in-process sandbox
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ALIBABA_CLOUD_", "DMS_MAGIC_"))}
        env["HOME"] = tempfile.mkdtemp()
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--case", name], capture_output=True,
                             text=True, env=env, timeout=900)
        try:
            row = json.loads(out.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            row = {"outcome": f"crashed: {(out.stderr or out.stdout).strip().splitlines()[-1:]}"}
        rows.append({"case": name, **row, "note": (CASES[name].__doc__ or "").strip()})
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--case":
        print(json.dumps(CASES[sys.argv[2]]()))
    else:
        for row in run(sys.argv[1:]):
            print(json.dumps(row, ensure_ascii=False))
