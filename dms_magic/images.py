"""Images for Qwen-VL messages: any image a notebook holds -> an OpenAI-style content part.

``image_part(x)`` takes a local path, ``bytes``, a PIL image, a matplotlib figure, a file-like
object, an ``http(s)://`` URL or a ``data:`` URL and returns
``{"type": "image_url", "image_url": {"url": ...}}``. Local data becomes a ``data:<mime>;base64,...``
URL whose MIME type comes from the bytes' magic numbers (never from a file name), so a ``.png``
that is really a JPEG is sent as ``image/jpeg``. ``user_message(text, images)`` builds the user
message (text part first). ``image_summary(part)`` says what a part holds (format, bytes,
width x height read from the header, no Pillow) for result cards and dry runs.

Everything is checked here, before any traffic: the format (PNG, JPEG, GIF, WEBP, BMP) and the
size (``MAX_DATA_URL_BYTES``). Pillow and matplotlib are optional: they are only touched when the
caller hands us one of their objects, so this module imports nothing heavy.

Masking applies to text only: an image goes to the service as it is (``IMAGES_NOT_MASKED``).
"""
from __future__ import annotations

import base64
import binascii
import io
import os
import re
import stat
import struct
from functools import lru_cache
from typing import Any, Mapping

from dms_magic.errors import ImageError, ImageTooLargeError
from dms_magic.wire.values import shorten

__all__ = [
    "ACCEPTED_FORMATS", "MIME_TYPES", "MAX_DATA_URL_BYTES", "IMAGES_NOT_MASKED", "ImageError",
    "ImageTooLargeError", "sniff_format", "image_dimensions", "image_part", "image_parts", "user_message", "with_images",
    "image_summary", "is_image_part", "content_images", "decode_data_url", "MAX_ENCODE_PIXELS", "thumbnail_url",
]

# Format name -> MIME type, in the order error messages list them.
MIME_TYPES: dict[str, str] = {
    "PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp", "BMP": "image/bmp",
}
ACCEPTED_FORMATS: tuple[str, ...] = tuple(MIME_TYPES)
_FORMAT_BY_MIME = {mime: fmt for fmt, mime in MIME_TYPES.items()} | {"image/jpg": "JPEG", "image/x-ms-bmp": "BMP"}

# The size limit, checked on the data: URL we would send (its length in bytes).
# Alibaba Cloud Model Studio's Qwen-VL guide ("图像限制") caps an image at 10 MB, for a URL and for a
# Base64 string alike; the searchable reference material we have did not include that section's text
# verbatim, and DMS's gateway sits in front of DashScope with an undocumented body limit of its own.
# So we take the conservative reading: 10 MB as 10,000,000 bytes (not MiB), applied to the whole
# encoded data: URL (base64 grows the image by 4/3, so a raw image up to ~7.5 MB fits). An http(s)
# URL is fetched by the service, not by us, so it is not size-checked here.
MAX_DATA_URL_BYTES = 10_000_000

# A PIL image held in memory is encoded (PNG) before its bytes can be measured, and encoding costs
# time and memory in proportion to its pixels (12000x12000: 7.5 s, 568 MB). The model never sees
# more than 16,384 patches of 28x28 pixels (12.8 M pixels, VlHighResolutionImages; the service
# scales anything larger down), so pixels beyond 4x that are refused before encoding.
MAX_ENCODE_PIXELS = 4 * 16384 * 28 * 28
HEADER_BYTES = 64  # what sniff_format and image_dimensions need of a file before it is read whole

IMAGES_NOT_MASKED = ("Images are sent as they are: masking applies to text only, so any personal data "
                     "inside an image reaches the model unmasked.")

_ACCEPTED_TEXT = ", ".join(ACCEPTED_FORMATS)
_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(?:;[\w.+-]+=[^;,]*)*)(?P<b64>;base64)?,",
                       re.IGNORECASE)


# --- reading bytes -------------------------------------------------------------------------------

def sniff_format(data: bytes) -> str | None:
    """The image format from the first bytes (magic numbers): 'PNG', 'JPEG', 'GIF', 'WEBP', 'BMP' or None."""
    head = bytes(data[:16])
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:2] == b"BM" and _is_bmp_header(bytes(data[:30])):
        return "BMP"
    return None


# BITMAPINFOHEADER and its successors (12: OS/2 core, 16/64: OS/2 2.x, 40, 52, 56, 108: V4, 124: V5).
_BMP_DIB_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}
_BMP_BIT_COUNTS = {1, 2, 4, 8, 16, 24, 32, 64}


def _is_bmp_header(head: bytes) -> bool:
    """More than "BM": a known DIB header size, one colour plane, a real bit depth, and pixel data
    that starts after the headers. Text that happens to start with "BM" fails all of these (it
    would need NUL bytes where the sizes are)."""
    if len(head) < 26:
        return False
    offset, dib_size = struct.unpack("<II", head[10:18])
    if dib_size not in _BMP_DIB_SIZES or offset < 14 + dib_size:
        return False
    if dib_size == 12:
        planes, bits = struct.unpack("<HH", head[22:26])
    else:
        if len(head) < 30:
            return False
        planes, bits = struct.unpack("<HH", head[26:30])
    return planes == 1 and bits in _BMP_BIT_COUNTS


def image_dimensions(data: bytes, fmt: str | None = None) -> tuple[int, int] | None:
    """(width, height) read from the header of a PNG, JPEG, GIF, WEBP or BMP, or None when unknown.

    Only the header is read (no decoding, no Pillow), so this is cheap for any size.
    """
    fmt = fmt or sniff_format(data)
    try:
        if fmt == "PNG" and data[12:16] == b"IHDR":
            return struct.unpack(">II", data[16:24])
        if fmt == "GIF":
            return struct.unpack("<HH", data[6:10])
        if fmt == "BMP":
            (dib_size,) = struct.unpack("<I", data[14:18])
            if dib_size == 12:  # BITMAPCOREHEADER: 16-bit sizes
                return struct.unpack("<HH", data[18:22])
            width, height = struct.unpack("<ii", data[18:26])
            return abs(width), abs(height)  # a negative height means top-down rows
        if fmt == "WEBP":
            return _webp_dimensions(data)
        if fmt == "JPEG":
            return _jpeg_dimensions(data)
    except struct.error:  # a truncated header
        return None
    return None


def _webp_dimensions(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":  # lossy: 14-bit sizes after the start code
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and data[20:21] == b"\x2f":  # lossless: 14-bit sizes minus one, bit-packed
        (bits,) = struct.unpack("<I", data[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":  # extended: 24-bit canvas sizes minus one
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    return None


# SOF markers carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return width, height
        if marker == 0xDA:  # start of scan before any frame header
            return None
        i += 2 + length
    return None


def decode_data_url(url: str) -> tuple[str | None, bytes]:
    """(declared MIME type, decoded bytes) of a base64 ``data:`` URL; ImageError when it is not one."""
    match = _DATA_URL.match(url)
    if not match:
        raise ImageError(f"{_describe_url(url)} is not a data: URL (expected data:image/png;base64,...).")
    if not match.group("b64"):
        raise ImageError(f"{_describe_url(url)} is not base64-encoded: use data:<mime>;base64,<data>.")
    payload = url[match.end():]
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        try:  # wrapped base64 (line breaks) is valid too; stripping first cost 24 ms per 3 MB image
            data = base64.b64decode("".join(payload.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ImageError(f"{_describe_url(url)} does not hold valid base64 data.") from None
    mime = match.group("mime")
    return (mime.lower() if mime else None), data


# --- building parts ------------------------------------------------------------------------------

def image_part(image: Any, *, max_bytes: int = MAX_DATA_URL_BYTES, name: str | None = None) -> dict:
    """One ``{"type": "image_url", "image_url": {"url": ...}}`` part from any supported image.

    ``image``: a local path (``str`` or ``os.PathLike``), ``bytes``/``bytearray``/``memoryview``,
    a PIL image, a matplotlib figure, a binary file-like object, an ``http(s)://`` URL (sent as it
    is; the service fetches it), a ``data:`` URL (checked, then sent as it is), or an existing
    image part (checked the same way). ``name`` labels the image in error messages.

    Raises ImageError naming the image (unreadable, not an image, a format other than PNG, JPEG,
    GIF, WEBP or BMP) and ImageTooLargeError above ``max_bytes`` of data: URL — always before any
    request is sent.
    """
    if isinstance(image, Mapping):
        return _checked_part(image, max_bytes)
    if isinstance(image, os.PathLike):
        return _from_path(os.fspath(image), max_bytes, name)
    if isinstance(image, str):
        stripped = image.strip()
        lowered = stripped[:8].lower()
        if lowered.startswith(("http://", "https://")):
            return _part(stripped)
        if lowered.startswith("data:"):
            return _part(_checked_data_url(stripped, max_bytes, name))
        if re.match(r"^[a-z][a-z0-9+.-]*://", stripped, re.IGNORECASE):
            raise ImageError(f"image {shorten(stripped)!r}: only http(s):// and data: URLs can be sent; "
                             "for a local file give its path.")
        return _from_path(image, max_bytes, name)
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
        return _part(_data_url(data, name or f"image bytes ({len(data):,} bytes)", max_bytes))
    if _is_pil_image(image):
        label = name or f"PIL image {image.width}x{image.height}"
        return _part(_data_url(_pil_bytes(image, label, max_bytes), label, max_bytes))
    if callable(getattr(image, "savefig", None)):  # a matplotlib Figure
        buffer = io.BytesIO()
        image.savefig(buffer, format="png")
        return _part(_data_url(buffer.getvalue(), name or "matplotlib figure", max_bytes))
    if callable(getattr(image, "read", None)):
        data = image.read(_raw_cap(max_bytes) + 1)  # bounded: an endless stream is not read to its end
        if not isinstance(data, (bytes, bytearray)):
            raise ImageError(f"{name or type(image).__name__} was opened in text mode: open the image with 'rb'.")
        label = name or getattr(image, "name", None) or f"{type(image).__name__} ({len(data):,} bytes)"
        return _part(_data_url(bytes(data), str(label), max_bytes))
    raise ImageError(f"cannot send {type(image).__name__} as an image: give a file path, bytes, a PIL image, "
                     "a matplotlib figure, an http(s):// URL or a data: URL.")


def image_parts(images: Any, *, max_bytes: int = MAX_DATA_URL_BYTES) -> list[dict]:
    """``image_part`` for each image; one image (not in a list) is accepted too; None gives []."""
    if images is None:
        return []
    if not isinstance(images, (list, tuple)):  # one image (a file object or a PIL image is iterable too)
        images = [images]
    return [image_part(item, max_bytes=max_bytes) for item in images]


def user_message(text: str | None, images: Any = None, *, max_bytes: int = MAX_DATA_URL_BYTES) -> dict:
    """A user message: ``content`` is the text part first, then one part per image.

    Without images the content stays a plain string (the wire is then exactly a text-only
    request's). ``text`` may be None or empty when images are given: the content is then the
    image parts alone.
    """
    parts = image_parts(images, max_bytes=max_bytes)
    if text is not None and not isinstance(text, str):
        raise TypeError(f"user_message text must be a str or None, not {type(text).__name__}")
    if not parts:
        if not text:
            raise ImageError("a user message needs text or at least one image.")
        return {"role": "user", "content": text}
    content = ([{"type": "text", "text": text}] if text else []) + parts
    return {"role": "user", "content": content}


def with_images(prompt_or_messages: Any, images: Any, *, max_bytes: int = MAX_DATA_URL_BYTES) -> Any:
    """The conversation with ``images`` added to its last message, which must be the user's
    (``dms_magic.chat(..., images=[...])``, ``%%dmschat --image``). A string prompt becomes one user
    message (text part first, then the images); a message list is copied, never changed in place.
    No images (None or []) gives the input back as it is. Every image is checked here (ImageError,
    ImageTooLargeError), before any request."""
    parts = image_parts(images, max_bytes=max_bytes)
    if not parts:
        return prompt_or_messages
    if prompt_or_messages is None or isinstance(prompt_or_messages, str):
        text = [{"type": "text", "text": prompt_or_messages}] if prompt_or_messages else []
        return [{"role": "user", "content": text + parts}]
    messages = [prompt_or_messages] if isinstance(prompt_or_messages, Mapping) else list(prompt_or_messages)
    last = messages[-1] if messages else None
    if not isinstance(last, Mapping) or last.get("role") != "user":
        role = last.get("role") if isinstance(last, Mapping) else None
        raise ImageError(f"images go with a user message, but the conversation ends with "
                         f"{'a ' + repr(role) + ' message' if role else 'no message'}: end it with the user's turn.")
    content = last.get("content")
    if isinstance(content, str):
        content = [{"type": "text", "text": content}] if content else []
    elif not isinstance(content, list):
        content = []
    messages[-1] = {**last, "content": [*content, *parts]}
    return messages


def _shown_path(path: Any) -> str:
    """A path as errors show it: whole when short, else its file name (what a person recognises)
    after an ellipsis; shortening from the right would cut the very name the error is about."""
    text = str(path)
    if len(text) <= 80:
        return text
    name = os.path.basename(text.rstrip("/\\")) or text
    return "…/" + shorten(name, 76)


def _part(url: str) -> dict:
    return {"type": "image_url", "image_url": {"url": url}}


def _checked_part(part: Mapping, max_bytes: int) -> dict:
    if not is_image_part(part):
        raise ImageError(f"{shorten(repr(dict(part)))} is not an image part: expected "
                         '{"type": "image_url", "image_url": {"url": ...}}.')
    url = _part_url(part)
    return image_part(url, max_bytes=max_bytes)


def _from_path(path: str, max_bytes: int, name: str | None) -> dict:
    return _part(_data_url(_read_image_file(path, max_bytes, name), name or path, max_bytes))


def _read_image_file(path: str, max_bytes: int = MAX_DATA_URL_BYTES, name: str | None = None) -> bytes:
    """A file's bytes, read only when they can be an image that fits: a regular file (not a FIFO,
    which would block, nor a device such as /dev/zero, which never ends), whose header is an
    image's, whose size (from ``stat``) fits ``max_bytes`` as a data: URL; and never more bytes than
    that (a file growing meanwhile is cut off and refused)."""
    label = name or path
    full = os.path.expanduser(path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below)
        fd = os.open(full, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise ImageError(f"image file {_shown_path(path)!r} does not exist (give a path, an http(s):// URL or a "
                         "data: URL).") from None
    except IsADirectoryError:
        raise ImageError(f"image path {_shown_path(path)!r} is a directory, not an image file.") from None
    except OSError as exc:
        raise ImageError(f"image file {_shown_path(path)!r} cannot be read: {exc.strerror or exc}.") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise ImageError(f"image path {_shown_path(path)!r} is a directory, not an image file.")
        raise ImageError(f"image path {_shown_path(path)!r} is not a regular file (a pipe, a device or a socket "
                         "has no size to check and may never end): save the image to a file and give its path.")
    with open(fd, "rb") as handle:
        try:
            head = handle.read(HEADER_BYTES)
            fmt = sniff_format(head)
            if fmt is None:
                raise ImageError(f"{_quote(label)} is not a supported image: its bytes are not {_ACCEPTED_TEXT} "
                                 f"(convert it to one of these formats).")
            size = os.fstat(fd).st_size  # known before reading: refuse a large file without reading it
            _check_size(label, _url_size(fmt, size), size, max_bytes)
            cap = _raw_cap(max_bytes)
            data = head + handle.read(cap + 1 - len(head))  # a file that grew since is still bounded
        except OSError as exc:
            raise ImageError(f"image file {_shown_path(path)!r} cannot be read: {exc.strerror or exc}.") from None
    return data


def _raw_cap(max_bytes: int) -> int:
    """Raw bytes beyond which no image fits ``max_bytes`` as a data: URL (base64 grows by 4/3)."""
    return max(0, max_bytes) * 3 // 4 + 3


def _url_size(fmt: str, raw: int) -> int:
    return len(f"data:{MIME_TYPES[fmt]};base64,") + 4 * ((raw + 2) // 3)


def _data_url(data: bytes, label: str, max_bytes: int) -> str:
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageError(f"{_quote(label)} is not a supported image: its bytes are not {_ACCEPTED_TEXT} "
                         f"(convert it to one of these formats).")
    _check_size(label, _url_size(fmt, len(data)), len(data), max_bytes)  # known before encoding
    return f"data:{MIME_TYPES[fmt]};base64," + base64.b64encode(data).decode("ascii")


def _checked_data_url(url: str, max_bytes: int, name: str | None) -> str:
    label = name or _describe_url(url)
    _check_size(label, len(url), None, max_bytes)
    mime, data = decode_data_url(url)
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageError(f"{label} does not hold a supported image: its bytes are not {_ACCEPTED_TEXT}.")
    declared = _FORMAT_BY_MIME.get(mime or "")
    if declared is None:
        raise ImageError(f"{label} declares {mime or 'no MIME type'}; use one of "
                         + ", ".join(MIME_TYPES.values()) + f" (its bytes are {fmt}: image/{fmt.lower()}).")
    if declared != fmt:
        raise ImageError(f"{label} declares {mime} but its bytes are {fmt}: use data:{MIME_TYPES[fmt]};base64,...")
    return url


def _check_size(label: str, size: int, raw: int | None, max_bytes: int) -> None:
    if size > max_bytes:
        raw_text = f" ({_mb(raw)} before base64)" if raw is not None else ""
        raise ImageTooLargeError(
            f"{_quote(label)} is too large to send: {_mb(size)} as a data: URL{raw_text}, above the limit of "
            f"{_mb(max_bytes)}. Resize or compress it (e.g. JPEG), or give an http(s):// URL the service can fetch.",
            size=size, limit=max_bytes)


def _is_pil_image(obj: Any) -> bool:
    # Pillow stays optional: recognise its images by module instead of importing it.
    return type(obj).__module__.startswith("PIL.") and callable(getattr(obj, "save", None)) \
        and hasattr(obj, "width") and hasattr(obj, "mode")


def _pil_bytes(image: Any, label: str, max_bytes: int) -> bytes:
    """A PIL image's bytes. Opened from a file and not yet loaded (``Image.open`` is lazy): the
    file's own bytes, read as a path is (bounded), never decoded. Otherwise, checked by its pixel
    count before any encoding: a JPEG read from a file stays JPEG (its own quantisation kept, no
    second loss and no PNG blow-up of a photo); anything else becomes PNG, which is lossless."""
    original = _unloaded_original(image, label, max_bytes)
    if original is not None:
        return original
    pixels = image.width * image.height
    if pixels > MAX_ENCODE_PIXELS:
        raise ImageTooLargeError(
            f"{_quote(label)} has {pixels:,} pixels, above the {MAX_ENCODE_PIXELS:,} this package encodes (the "
            f"model sees at most 12.8 M pixels; larger images are scaled down by the service): resize it first, "
            f"e.g. image.thumbnail((4096, 4096)), or save it to a file and give the path.",
            size=pixels, limit=MAX_ENCODE_PIXELS)
    buffer = io.BytesIO()
    if getattr(image, "format", None) == "JPEG" and image.mode in ("RGB", "L", "CMYK"):
        try:
            image.save(buffer, format="JPEG", quality="keep")
            return buffer.getvalue()
        except (ValueError, OSError):
            buffer = io.BytesIO()
    if image.mode not in ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"):  # e.g. CMYK, YCbCr: not in PNG
        image = image.convert("RGBA" if "A" in image.mode else "RGB")
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _unloaded_original(image: Any, label: str, max_bytes: int) -> bytes | None:
    """The original bytes of a PIL image opened lazily from a file (or a file object) in a format we
    send, before anything decoded or changed it (its ``tile`` list is emptied by ``load()``)."""
    if getattr(image, "format", None) not in MIME_TYPES or not getattr(image, "tile", None):
        return None
    filename = getattr(image, "filename", None)
    if isinstance(filename, (str, os.PathLike)) and os.fspath(filename):
        return _read_image_file(os.fspath(filename), max_bytes, label)
    fp = getattr(image, "fp", None)
    if fp is None or not callable(getattr(fp, "seek", None)):
        return None
    position = fp.tell()
    try:
        fp.seek(0)
        data = fp.read(_raw_cap(max_bytes) + 1)
    finally:
        fp.seek(position)
    return data if isinstance(data, bytes) and sniff_format(data) == image.format else None


# --- thumbnails ----------------------------------------------------------------------------------
THUMBNAIL_BOX = (192, 96)  # width, height in CSS pixels at most
THUMBNAIL_MAX_PIXELS = 40_000_000  # larger images are described, not decoded for a thumbnail


# A streamed card is drawn again on every update with the same images: decoding and shrinking
# them each time cost 75 s for three 2.6 MB images in one streamed answer. The few newest are
# remembered (the URLs are held by the request anyway).
_IMAGES_REMEMBERED = 8


@lru_cache(maxsize=_IMAGES_REMEMBERED)
def thumbnail_url(url: str, box: tuple[int, int] = THUMBNAIL_BOX) -> str | None:
    """A small JPEG data: URL (a few KB) of an image data: URL, to show in a card instead of the
    image itself (a 96-px view of a 12000x12000 PNG cost the browser +750 MB, and the notebook
    file the whole image); None when Pillow is missing, the image cannot be decoded, or it has more
    than THUMBNAIL_MAX_PIXELS pixels (read from its header: decoding it would cost hundreds of MB)."""
    try:
        from PIL import Image
    except ImportError:
        return None
    try:
        _, data = decode_data_url(url)
    except ImageError:
        return None
    size = image_dimensions(data)
    if size is None or size[0] * size[1] > THUMBNAIL_MAX_PIXELS:
        return None
    image: Image.Image  # Image.open gives an ImageFile; a non-RGB one is replaced by a plain Image below
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (box[0] * 2, box[1] * 2))  # JPEG: decode at a reduced scale, cheaply
            image.thumbnail((box[0] * 2, box[1] * 2))  # 2x for sharp high-DPI screens
            if image.mode not in ("RGB", "L"):
                background = Image.new("RGB", image.size, (255, 255, 255))
                rgba = image.convert("RGBA")
                background.paste(rgba, mask=rgba.getchannel("A"))
                image = background
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=70)
    except Exception:  # noqa: BLE001 - a thumbnail is a nicety: any decoding failure means "none"
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# --- reading parts -------------------------------------------------------------------------------

def is_image_part(part: Any) -> bool:
    """True for ``{"type": "image_url", "image_url": {"url": str}}`` (or ``"image_url": str``)."""
    return isinstance(part, Mapping) and part.get("type") == "image_url" and isinstance(_part_url(part), str)


def _part_url(part: Mapping) -> Any:
    inner = part.get("image_url")
    return inner.get("url") if isinstance(inner, Mapping) else inner


def content_images(content: Any) -> list[dict]:
    """The image parts of a message's content (none for a string)."""
    return [p for p in content if is_image_part(p)] if isinstance(content, list) else []


def image_summary(part: Mapping) -> dict:
    """What an image part holds, for cards and dry runs (never the data itself).

    Keys: ``source`` ("data" or "url"), ``format`` (e.g. "PNG"; for a URL guessed from its
    extension, else None), ``mime``, ``bytes`` (decoded size; None for a URL), ``width``,
    ``height`` (from the header; None when unknown), ``url`` (a URL shortened to 80 characters; a
    data: URL is shown as ``data:<mime>;base64,...``).
    """
    url = _part_url(part) if isinstance(part, Mapping) else part
    if not isinstance(url, str):
        raise ImageError(f"{shorten(repr(part))} is not an image part.")
    if url[:5].lower() == "data:":
        return dict(_data_url_summary(url))
    ext = os.path.splitext(url.split("?", 1)[0].split("#", 1)[0])[1].lower().lstrip(".")
    fmt = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP", "bmp": "BMP"}.get(ext)
    return {"source": "url", "format": fmt, "mime": MIME_TYPES.get(fmt or ""), "bytes": None,
            "width": None, "height": None, "url": shorten(url)}


@lru_cache(maxsize=_IMAGES_REMEMBERED)
def _data_url_summary(url: str) -> dict:
    mime, data = decode_data_url(url)
    fmt = sniff_format(data)
    size = image_dimensions(data, fmt)
    return {"source": "data", "format": fmt, "mime": MIME_TYPES.get(fmt or "", mime), "bytes": len(data),
            "width": size[0] if size else None, "height": size[1] if size else None,
            "url": f"data:{mime or ''};base64,..."}


# --- small text helpers --------------------------------------------------------------------------

def _describe_url(url: str) -> str:
    head = url.split(",", 1)[0]
    return f"data: URL {shorten(head, 60)!r} ({len(url):,} characters)"


def _quote(label: str) -> str:
    return label if label.startswith(("image ", "PIL ", "data: ", "matplotlib ")) else f"image {label!r}"


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.2f} MB" if n >= 100_000 else f"{n:,} bytes"
