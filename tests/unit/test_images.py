"""Images become OpenAI/Qwen-VL content parts: from a path, bytes, a PIL image, a figure or a URL.

Pillow is the outside truth here: it writes the images (five formats, odd sizes, alpha, a CMYK
JPEG), and what we read from their headers (format, width x height) must equal what Pillow says.
"""
from __future__ import annotations

import base64
import io

import pytest

from helpers.images import blank_png

from dms_magic.wire._messages import content_text
from PIL import Image

from dms_magic import images
from dms_magic.images import ImageError, ImageTooLargeError, image_part, image_summary, user_message

FORMATS = ["PNG", "JPEG", "GIF", "WEBP", "BMP"]


def encoded(fmt: str, size=(64, 48), mode="RGB", **save) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (10, 120, 200) if mode == "RGB" else None).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def url_of(part: dict) -> str:
    assert part["type"] == "image_url"
    return part["image_url"]["url"]


def decoded(part: dict) -> bytes:
    return base64.b64decode(url_of(part).split(",", 1)[1])


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("size", [(1, 1), (17, 3001), (640, 480)])
def test_format_and_size_from_the_header_agree_with_pillow(fmt, size):
    data = encoded(fmt, size)
    with Image.open(io.BytesIO(data)) as oracle:
        assert images.sniff_format(data) == oracle.format
        assert images.image_dimensions(data) == oracle.size


@pytest.mark.parametrize("kind", ["lossless", "alpha"])
def test_webp_variants_are_read(kind):
    # VP8L (lossless) and VP8X (extended, written for alpha) keep their sizes in other places than VP8.
    data = encoded("WEBP", (333, 77), mode="RGBA" if kind == "alpha" else "RGB",
                   **({"lossless": True} if kind == "lossless" else {}))
    assert images.image_dimensions(data) == (333, 77)


def test_progressive_jpeg_size_is_read():
    data = encoded("JPEG", (123, 45), progressive=True)
    assert images.image_dimensions(data) == (123, 45)


@pytest.mark.parametrize("fmt", FORMATS)
def test_path_becomes_a_data_url_with_the_mime_type_of_its_bytes(tmp_path, fmt):
    data = encoded(fmt)
    path = tmp_path / "picture.bin"  # the name says nothing: the bytes decide
    path.write_bytes(data)
    part = image_part(str(path))
    assert url_of(part).startswith(f"data:{images.MIME_TYPES[fmt]};base64,")
    assert decoded(part) == data
    assert image_part(path) == part  # a pathlib.Path too


def test_a_misnamed_file_is_sent_with_its_real_type(tmp_path):
    path = tmp_path / "photo.png"
    path.write_bytes(encoded("JPEG"))
    assert url_of(image_part(path)).startswith("data:image/jpeg;base64,")


def test_bytes_and_file_objects():
    data = encoded("PNG", (5, 7))
    assert decoded(image_part(data)) == data
    assert decoded(image_part(bytearray(data))) == data
    assert decoded(image_part(io.BytesIO(data))) == data


def test_pil_image_is_sent_losslessly_as_png():
    original = Image.new("RGBA", (31, 9), (1, 2, 3, 128))
    part = image_part(original)
    assert url_of(part).startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(decoded(part))) as back:
        assert back.size == (31, 9) and back.mode == "RGBA"
        assert back.tobytes() == original.tobytes()


def test_pil_image_read_from_a_jpeg_stays_jpeg():
    with Image.open(io.BytesIO(encoded("JPEG", (40, 30)))) as photo:
        part = image_part(photo)
    assert url_of(part).startswith("data:image/jpeg;base64,")
    assert images.image_dimensions(decoded(part)) == (40, 30)


def test_pil_image_in_a_mode_png_cannot_hold_is_converted():
    part = image_part(Image.new("CMYK", (8, 8)))
    with Image.open(io.BytesIO(decoded(part))) as back:
        assert back.format == "PNG" and back.mode == "RGB"


def test_matplotlib_figure_becomes_a_png():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2, 1), dpi=50)
    figure.add_subplot().plot([1, 2, 3])
    summary = image_summary(image_part(figure))
    assert (summary["format"], summary["width"], summary["height"]) == ("PNG", 100, 50)


@pytest.mark.parametrize("url", ["https://example.com/form.png", "http://example.com/a?b=c", "HTTPS://EXAMPLE.COM/x"])
def test_http_urls_are_passed_as_they_are(url):
    assert image_part(url) == {"type": "image_url", "image_url": {"url": url}}


def test_data_url_is_checked_then_passed_as_it_is():
    url = "data:image/gif;base64," + base64.b64encode(encoded("GIF")).decode()
    assert url_of(image_part(url)) == url
    assert image_part({"type": "image_url", "image_url": {"url": url}}) == image_part(url)


@pytest.mark.parametrize("url, words", [
    ("data:image/png;base64,%%%notbase64", "valid base64"),
    ("data:image/png,rawtext", "not base64-encoded"),
    ("data:image/png;base64," + base64.b64encode(b"just some text").decode(), "PNG, JPEG, GIF, WEBP, BMP"),
    ("data:image/png;base64," + base64.b64encode(encoded("JPEG")).decode(), "declares image/png but its bytes are JPEG"),
    ("data:image/tiff;base64," + base64.b64encode(encoded("PNG")).decode(), "declares image/tiff"),
])
def test_bad_data_urls_are_refused_with_the_reason(url, words):
    with pytest.raises(ImageError, match="data: URL") as info:
        image_part(url)
    assert words in str(info.value)


def test_unsupported_bytes_name_the_input_and_the_formats(tmp_path):
    path = tmp_path / "notes.pdf"
    path.write_bytes(b"%PDF-1.7 not an image")
    with pytest.raises(ImageError) as info:
        image_part(path)
    message = str(info.value)
    assert "notes.pdf" in message and "PNG, JPEG, GIF, WEBP, BMP" in message


@pytest.mark.parametrize("value, words", [
    ("/no/such/picture.png", "does not exist"),
    ("ftp://example.com/a.png", "only http(s):// and data: URLs"),
    (12345, "cannot send int"),
])
def test_unusable_inputs_say_what_to_give(value, words):
    with pytest.raises(ImageError, match=words.replace("(", r"\(").replace(")", r"\)")):
        image_part(value)


def test_a_directory_is_not_an_image(tmp_path):
    with pytest.raises(ImageError, match="is a directory"):
        image_part(tmp_path)


def test_oversize_is_refused_before_encoding_with_the_limit_named(tmp_path):
    data = encoded("PNG", (300, 300))
    path = tmp_path / "big.png"
    path.write_bytes(data)
    limit = len(data)  # the data: URL is larger than the raw bytes, so this limit is exceeded
    with pytest.raises(ImageTooLargeError) as info:
        image_part(path, max_bytes=limit)
    assert "big.png" in str(info.value) and f"{limit:,} bytes" in str(info.value)
    assert info.value.limit == limit and info.value.size > limit
    # exactly at the limit passes: the size we predict is the size we send
    exact = len(url_of(image_part(path)))
    assert len(url_of(image_part(path, max_bytes=exact))) == exact
    with pytest.raises(ImageTooLargeError):
        image_part(path, max_bytes=exact - 1)


def test_default_limit_refuses_a_large_image_and_a_large_data_url():
    big = b"\x89PNG\r\n\x1a\n" + bytes(8_000_000)  # ~10.7 MB once base64-encoded
    with pytest.raises(ImageTooLargeError, match="10.00 MB"):
        image_part(big)
    with pytest.raises(ImageTooLargeError, match="10.00 MB"):
        image_part("data:image/png;base64," + "A" * images.MAX_DATA_URL_BYTES)


def test_user_message_puts_the_text_first():
    png, gif = encoded("PNG"), encoded("GIF")
    message = user_message("What is on this form?", [png, "https://example.com/b.jpg", gif])
    assert message["role"] == "user"
    kinds = [p["type"] for p in message["content"]]
    assert kinds == ["text", "image_url", "image_url", "image_url"]
    assert message["content"][0] == {"type": "text", "text": "What is on this form?"}
    assert decoded(message["content"][3]) == gif
    assert user_message("hi", png)["content"][1] == image_part(png)  # one image alone


def test_user_message_without_images_is_plain_text_and_never_empty():
    assert user_message("hello") == {"role": "user", "content": "hello"}
    assert user_message("hello", []) == {"role": "user", "content": "hello"}
    assert [p["type"] for p in user_message(None, [encoded("PNG")])["content"]] == ["image_url"]
    with pytest.raises(ImageError, match="needs text or at least one image"):
        user_message("", [])


def test_summary_of_a_data_part_and_of_a_url():
    data = encoded("WEBP", (320, 200))
    summary = image_summary(image_part(data))
    assert summary == {"source": "data", "format": "WEBP", "mime": "image/webp", "bytes": len(data),
                       "width": 320, "height": 200, "url": "data:image/webp;base64,..."}
    remote = image_summary(image_part("https://example.com/scan.JPG?x=1"))
    assert remote["source"] == "url" and remote["format"] == "JPEG" and remote["bytes"] is None


def test_content_helpers_read_text_and_image_parts():
    message = user_message("line one", [encoded("PNG")])
    assert content_text(message["content"]) == "line one"
    assert content_text("plain") == "plain"
    assert len(images.content_images(message["content"])) == 1
    assert images.content_images("plain") == []


def test_these_modules_stay_at_the_bottom_layer():
    # Pillow/matplotlib only when the caller hands us their objects; nothing above the bottom layer.
    import subprocess
    import sys

    code = ("import sys, dms_magic.images, dms_magic.tools, dms_magic.sandbox.multimodal; "
            "print(sorted({m.split('.')[0] if not m.startswith('dms_magic') else m for m in sys.modules}))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for name in ("PIL", "matplotlib", "pandas", "IPython", "dms_magic.client", "dms_magic.session",
                 "dms_magic.wire.result", "dms_magic.notebook", "dms_magic.masking"):
        assert f"'{name}'" not in loaded, name


# -- issue 23 items 3, 10, 11: bounded, type-checked reads; sniffing; thumbnails --------------------
def _bytes_read() -> int:
    """Bytes this process has read through read() calls (Linux /proc/self/io rchar)."""
    with open("/proc/self/io") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("rchar:"))


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/urandom"])
def test_a_device_is_refused_without_being_read(path):
    before = _bytes_read()
    with pytest.raises(ImageError, match="not a regular file"):
        image_part(path)
    assert _bytes_read() - before < 1_000_000


def test_a_fifo_is_refused_without_blocking(tmp_path):
    import os

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)  # nobody writes to it: opening it for reading would wait forever
    with pytest.raises(ImageError, match="not a regular file"):
        image_part(str(fifo))


def test_a_large_file_is_refused_by_its_size_before_it_is_read(tmp_path):
    big = tmp_path / "big.png"
    with open(big, "wb") as handle:  # sparse: 200 MB on paper, a PNG header in front
        handle.write(encoded("PNG", (4, 4))[:33])
        handle.truncate(200_000_000)
    before = _bytes_read()
    with pytest.raises(ImageTooLargeError) as info:
        image_part(big)
    assert _bytes_read() - before < 1_000_000  # the header only, not 200 MB
    assert info.value.size > images.MAX_DATA_URL_BYTES


def test_a_text_file_is_not_read_whole_to_learn_it_is_not_an_image(tmp_path):
    text = tmp_path / "notes.png"
    text.write_bytes(b"not an image\n" * 2_000_000)  # 26 MB
    before = _bytes_read()
    with pytest.raises(ImageError, match="not a supported image"):
        image_part(text)
    assert _bytes_read() - before < 1_000_000


@pytest.mark.parametrize("content", [
    b"BM" + b"x" * 40, b"BMW M3 service notes: oil change at 15,000 km, tyres rotated, brakes checked.\n" * 3,
    b"BM\0\0\0\0\0\0\0\0" + b"\x36\0\0\0" + b"(\0\0\0" + b"\x10\0\0\0\x10\0\0\0" + b"\x07\0\x18\0",  # 7 planes
])
def test_a_text_file_starting_with_bm_is_not_a_bmp(tmp_path, content):
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    assert images.sniff_format(content) is None
    with pytest.raises(ImageError, match="not a supported image"):
        image_part(path)


def test_real_bmps_of_every_header_kind_are_still_bmps():
    for mode in ("1", "L", "P", "RGB", "RGBA"):
        data = encoded("BMP", (17, 9), mode=mode)
        assert images.sniff_format(data) == "BMP" and images.image_dimensions(data) == (17, 9)
    core = b"BM" + b"\0" * 8 + b"\x1a\0\0\0" + b"\x0c\0\0\0" + b"\x02\0\x03\0" + b"\x01\0\x18\0"  # OS/2 12-byte
    assert images.sniff_format(core + b"\0" * 24) == "BMP"


def test_a_lazily_opened_pil_image_is_sent_as_its_file_never_decoded(tmp_path):
    path = tmp_path / "scan.png"
    path.write_bytes(blank_png(6000, 6000))  # 36 M pixels: decoding it would take 36 MB and seconds
    with Image.open(path) as image:
        url = url_of(image_part(image))
        assert image.tile  # still not decoded
    assert base64.b64decode(url.split(",", 1)[1]) == path.read_bytes()
    with Image.open(io.BytesIO(path.read_bytes())) as image:  # from a file object, the same
        assert base64.b64decode(url_of(image_part(image)).split(",", 1)[1]) == path.read_bytes()


def test_an_in_memory_pil_image_is_checked_by_its_pixels_before_encoding():
    image = Image.new("1", (8200, 8200))  # 67 M pixels, 8 MB in memory; a PNG of it would be small
    with pytest.raises(ImageTooLargeError, match="pixels"):
        image_part(image)


def test_thumbnails_are_small_jpegs_and_huge_images_get_none():
    import random

    rng = random.Random(7)
    noisy = Image.frombytes("RGB", (1600, 1200), rng.randbytes(1600 * 1200 * 3))
    part = image_part(noisy)
    assert len(url_of(part)) > 3_000_000
    thumb = images.thumbnail_url(url_of(part))
    assert thumb.startswith("data:image/jpeg;base64,") and len(thumb) < 40_000
    with Image.open(io.BytesIO(base64.b64decode(thumb.split(",", 1)[1]))) as small:
        assert small.width <= 384 and small.height <= 192
    huge = "data:image/png;base64," + base64.b64encode(blank_png(12000, 12000)).decode()
    assert images.thumbnail_url(huge) is None  # its header says 144 M pixels: not decoded
