"""The form's image upload: thumbnails, the image parts on the wire, the card's image section."""
from __future__ import annotations

import datetime
import html
import io

import pytest
from PIL import Image

from dms_magic.images import IMAGES_NOT_MASKED, MAX_DATA_URL_BYTES
from dms_magic.notebook.form import form

pytestmark = pytest.mark.usefixtures("to_sandbox")


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(f, *files: tuple[str, bytes]) -> None:
    """What the browser sets when a person picks files (ipywidgets 8's FileUpload value)."""
    f.images.upload.value = tuple({"name": name, "type": "image/png", "size": len(data), "content": memoryview(data),
                                   "last_modified": datetime.datetime(2026, 1, 1)} for name, data in files)


def test_uploaded_images_show_thumbnails_reach_the_wire_and_the_card(sandbox):
    f = form(prompt="What is on this form? 我的手机号13812345678", need_desensitization=True,
             desensitization_rule="UserInfo")
    upload(f, ("form.png", png(80, 60)), ("chart.png", png(20, 20)))
    assert f.images.html().count('<img src="data:image/jpeg;base64,') == 2  # small thumbnails, not the images
    # each thumbnail is captioned with its file name
    assert "form.png" in f.images.html() and "chart.png" in f.images.html()
    result = f.send()
    parts = sandbox.received[-1]["request"].messages[-1]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "image_url"]
    assert "138****5678" in sandbox.received[-1]["model_input"][-1]["content"][0]["text"]  # text masked
    assert parts[1:] == sandbox.received[-1]["model_input"][-1]["content"][1:]  # images as they are
    (shown,) = f.output.outputs
    assert shown["data"]["text/html"].count("<img src=") == 2 and IMAGES_NOT_MASKED in shown["data"]["text/plain"]
    assert html.escape(IMAGES_NOT_MASKED) in shown["data"]["text/html"]  # masking is on: images are not masked
    assert "form.png" in shown["data"]["text/html"]  # the card's thumbnails keep their file names
    assert "I received 2 images: PNG 80x60 pixels" in result.text


def test_copy_as_cell_writes_uploads_as_image_files_with_a_note_and_clear_removes_them(ip, tmp_path, monkeypatch):
    f = form(prompt="hello")
    upload(f, ("a.png", png(8, 8)))
    cell = f.copy_as_cell()
    assert cell == "%%dmschat --image a.png\nhello"
    assert "save each one" in f.cell_output.outputs[0]["data"]["text/html"]
    (tmp_path / "a.png").write_bytes(f.images.files()[0][1])  # saved as the note says: the cell runs
    monkeypatch.chdir(tmp_path)
    line, body = cell.split("\n", 1)
    assert ip.run_cell(cell).success
    f.clear()  # the prompt, the output and the images
    assert f.images.files() == [] and f.images.html() == ""
    f.prompt.value = "hello"
    assert f.to_magic().endswith("\nhello")


def test_an_oversize_upload_is_named_beside_the_good_one_and_removable_alone(sandbox, arrivals):
    f = form(prompt="look")
    upload(f, ("good.png", png(4, 4)), ("huge.png", png(4, 4)[:33] + b"\0" * (MAX_DATA_URL_BYTES * 3 // 4 + 10)))
    shown = f.images.html()
    assert "too large to send" in shown and "huge.png" in shown and shown.count("<img src=") == 1  # good.png stays
    seen = arrivals(sandbox)
    with pytest.raises(ValueError, match="huge.png.*remove it"):
        f.send()
    assert seen.count == 0
    (remove_huge,) = [row.children[0] for row in f.images.listing.children if "huge.png" in row.children[1].value]
    remove_huge.click()
    assert [name for name, _ in f.images.files()] == ["good.png"]
    f.send()
    assert [p["type"] for p in sandbox.received[-1]["request"].messages[-1]["content"]] == ["text", "image_url"]
