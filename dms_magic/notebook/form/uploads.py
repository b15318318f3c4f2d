"""The form's images: a FileUpload whose files are checked one by one (format, size, as ``--image``
checks them) and listed one by one, each with its thumbnail (or why it is refused) and its own
remove button. Images are sent as they are (masking applies to text)."""
from __future__ import annotations

from typing import Any

import ipywidgets as W

from dms_magic.views.styles import esc
from dms_magic.notebook.form.rows import error_span


class ImageUpload:
    """``.parts()``: the image parts of the good files, in order; ``.problems()``: (name, why) of the
    refused ones; ``.remove(name)``; ``.files()``: (name, bytes) of every kept file."""

    def __init__(self) -> None:
        self.upload = W.FileUpload(accept="image/png,image/jpeg,image/gif,image/webp,image/bmp", multiple=True,
                                   description="add images")
        self.upload.add_class("dms-image-upload")
        self._kept: list[tuple[str, bytes]] = []
        self.listing = W.VBox([])
        self.listing.add_class("dms-image-list")
        self.upload.observe(self._added, names="value")
        self.widget = W.VBox([self.upload, self.listing])

    # -- values --------------------------------------------------------------------------------
    def files(self) -> list[tuple[str, bytes]]:
        return list(self._kept)

    def _checked(self) -> list[tuple[str, dict | None, str | None]]:
        from dms_magic.images import ImageError, image_part

        out: list[tuple[str, dict | None, str | None]] = []
        for name, data in self._kept:
            try:
                out.append((name, image_part(data, name=name), None))
            except ImageError as exc:
                out.append((name, None, str(exc)))
        return out

    def parts(self) -> list[dict]:
        """The image parts to send. A refused file is named (ImageError) until it is removed: the
        person picked it to be sent, so nothing goes without it silently."""
        from dms_magic.images import ImageError

        checked = self._checked()
        bad = [(name, why) for name, _part, why in checked if why is not None]
        if bad:
            name, why = bad[0]
            raise ImageError(f"{name}: {why}; remove it (✕ next to it) to send the other images")
        return [part for _name, part, _why in checked if part is not None]

    def html(self) -> str:
        """What the list shows (for scripts and tests)."""
        return "".join(getattr(child, "value", "") for row in self.listing.children for child in row.children)

    def names(self) -> list[str]:
        """The file names of the images ``parts()`` sends, in the same order (the card's captions)."""
        return [name for name, part, _why in self._checked() if part is not None]

    def problems(self) -> list[tuple[str, str]]:
        return [(name, why) for name, _part, why in self._checked() if why is not None]

    def add_to(self, messages: list[dict]) -> list[dict]:
        from dms_magic.images import with_images

        parts = self.parts()
        return with_images(messages, parts) if parts else messages

    def add(self, name: str, data: bytes) -> None:
        """Add one file (what an upload does; also for scripts and tests)."""
        self._kept = [(n, d) for n, d in self._kept if n != name] + [(name, bytes(data))]
        self._redraw()

    def remove(self, name: str) -> None:
        self._kept = [(n, d) for n, d in self._kept if n != name]
        self._redraw()

    def clear(self) -> None:
        self._kept = []
        self._redraw()

    # -- the page ------------------------------------------------------------------------------
    def _added(self, _change: Any = None) -> None:
        for item in self.upload.value or ():
            self._kept = [(n, d) for n, d in self._kept if n != str(item.get("name", "image"))]
            self._kept.append((str(item.get("name", "image")), bytes(item.get("content", b""))))
        if self.upload.value:
            self.upload.value = ()  # the list below is the state: a new upload adds to it
        self._redraw()

    def _redraw(self) -> None:
        from dms_magic.notebook.images_tools import extras_html

        rows = []
        for name, part, why in self._checked():
            remove = W.Button(description="", icon="times", tooltip=f"Remove {name}",
                              layout=W.Layout(width="2.4em"))
            remove.add_class("dms-image-remove")
            remove.on_click(lambda _b, name=name: self.remove(name))
            shown = (extras_html(images=[part], image_names=[name], dry_run=True) if part is not None
                     else error_span(f"{name}: {why} (not sent)"))
            label = W.HTML(f"<b>{esc(name)}</b>")
            rows.append(W.HBox([remove, label, W.HTML(shown)]))
        self.listing.children = rows
