"""What ``%%dmschat`` and the form add for images and tools (issue 15), apart from the magic itself.

- ``read_images(values, namespace)``: ``--image PATH_OR_URL_OR_$var`` values -> image parts
  (``$var`` may hold a path, bytes, a PIL image, a matplotlib figure, a URL or a list of them).
- ``read_tools(text, namespace)``: ``--tools $var`` (or JSON text) -> (tools for the request,
  what ``--run-tools`` may call: the callables given, and for spec dicts the functions of the same
  name in the user namespace).
- ``run_tool_rounds(client, messages, params, functions, max_rounds)``: the tool loop over the
  streaming action (each round read to its end, quietly).
- ``extras_html`` / ``extras_text``: the card's sections: thumbnails of the images sent and the
  sentence that they are sent as they are; the tool calls asked for, each call and its result; with
  masking on, the arguments that look sensitive and the local preview of what the model saw.

Every failure a person can fix is a ``UsageError`` naming the option (the magic shows one line).
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from IPython.core.error import UsageError

from dms_magic.views import render
from dms_magic.views.render import esc

THUMBNAIL_PX = 96  # the height of a thumbnail in the card
_VAR = re.compile(r"\$([A-Za-z_]\w*)")


def _variable(option: str, text: str, namespace: Mapping[str, Any]) -> tuple[bool, Any]:
    """(True, value) for ``$name`` (UsageError when it is not defined), (False, text) otherwise."""
    match = _VAR.fullmatch(text.strip())
    if not match:
        return False, text
    name = match.group(1)
    if name not in namespace:
        raise UsageError(f"{option} {text}: variable {name!r} is not defined; define it in a cell above")
    return True, namespace[name]


# -- images -----------------------------------------------------------------------------------------
def read_images(values: Iterable[str] | None, namespace: Mapping[str, Any]) -> list[dict]:
    """Image parts for the ``--image`` values, in order; checked (format, size) before any traffic."""
    from dms_magic.images import ImageError, image_part

    parts: list[dict] = []
    for text in values or []:
        is_var, value = _variable("--image", text, namespace)
        items = list(value) if is_var and isinstance(value, (list, tuple)) else [value]
        for item in items:
            try:
                parts.append(image_part(item))
            except ImageError as exc:
                raise UsageError(f"--image {text}: {exc}") from None
    return parts


def image_rows(parts: Iterable[Mapping]) -> list[dict]:
    """``images.image_summary`` of each part, with the URL to show as a thumbnail (data: URLs only:
    a remote image is linked, not loaded, so rendering the card makes no request)."""
    from dms_magic.images import image_summary

    rows = []
    for part in parts:
        info = image_summary(part)
        url = part["image_url"]["url"] if isinstance(part.get("image_url"), Mapping) else part.get("image_url")
        rows.append({**info, "src": url if info["source"] == "data" else None,
                     "link": url if info["source"] == "url" else None})
    return rows


def _image_label(info: Mapping[str, Any]) -> str:
    if info["source"] == "url":
        return f"{info['format'] or 'image'} at {info['url']}"
    size = f"{info['width']}x{info['height']}" if info["width"] else "unknown size"
    return f"{info['format']} {size}, {info['bytes']:,} bytes"


# -- tools ------------------------------------------------------------------------------------------
def read_tools(text: str | None, namespace: Mapping[str, Any]) -> tuple[Any, Any]:
    """(tools to send, what ``--run-tools`` runs) from ``--tools $var`` or JSON text. The second is
    the tools with each spec dict replaced by the notebook's function of that name when there is
    one (a spec without a function stays: a call to it is reported, not run)."""
    import json

    from dms_magic.tools import ToolSpecError, tool_spec, tool_specs

    if text is None:
        return None, {}
    is_var, value = _variable("--tools", text, namespace)
    if not is_var:
        try:
            value = json.loads(text)
        except ValueError:
            raise UsageError(f"--tools {text!r}: expected $variable (a list of functions or specs) or a JSON "
                             "array of function specs") from None
    if isinstance(value, Mapping) and "function" not in value and "name" not in value and "type" not in value:
        value = list(value.values())  # {name: fn}: the functions are the tools
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    try:
        tool_specs(items)  # every tool describable, names unique
        runnable = []
        for item in items:
            name = tool_spec(item)["function"]["name"]
            if isinstance(item, Mapping) and callable(namespace.get(name)):
                item = namespace[name]  # a spec dict: the notebook's function of that name runs
            runnable.append(item)
    except ToolSpecError as exc:
        raise UsageError(f"--tools {text}: {exc}") from None
    return value, runnable


def run_tool_rounds(client: Any, messages: list[dict], params: Mapping[str, Any], functions: Any, max_rounds: int):
    """``tools.tool_loop`` with each round sent on the streaming action and read to its end."""
    from dms_magic.tools import tool_loop

    def send(conversation: list[dict]):
        with client.stream(conversation, **params) as stream:
            for _ in stream:
                pass
            return stream.result

    return tool_loop(send, messages, functions, max_rounds=max_rounds)


def model_saw(messages: list[dict], rule: str) -> list[tuple[str, str]]:
    """(role, text) of each text the model saw, as the local masking engine predicts it."""
    from dms_magic.masking import mask_text_parts

    masked = mask_text_parts(messages, rule)
    out: list[tuple[str, str]] = []
    for message in masked:
        role = message.get("role")
        if role not in ("user", "tool"):
            continue
        content = message.get("content")
        texts = [content] if isinstance(content, str) else [
            p.get("text") for p in content or [] if isinstance(p, Mapping) and p.get("type") == "text"]
        out.extend((role, t) for t in texts if t)
    return out


# -- the card's sections ---------------------------------------------------------------------------
def extras_html(*, images: Iterable[Mapping] = (), calls: Iterable[Any] = (), loop: Any = None,
                masked: bool = False, rule: str | None = None, messages: list[dict] | None = None,
                dry_run: bool = False) -> str:
    """The images sent (thumbnails) and the tool calls and results, as card sections ("" if none)."""
    from dms_magic.images import IMAGES_NOT_MASKED

    sections = []
    rows = image_rows(images)
    if rows:
        thumbs = "".join(
            '<figure style="display:inline-block;margin:2px 8px 2px 0;text-align:center">'
            + (f'<img src="{esc(r["src"])}" alt="{esc(_image_label(r))}" '
               f'style="max-height:{THUMBNAIL_PX}px;max-width:{THUMBNAIL_PX * 2}px;border:1px solid #8c959f"/>'
               if r["src"] else f'<a href="{esc(r["link"])}" target="_blank" rel="noopener">{esc(r["url"])}</a>')
            + f'<figcaption style="{render.MUTED_STYLE}">{esc(_image_label(r))}</figcaption></figure>'
            for r in rows)
        verb = "would be sent" if dry_run else "sent"
        sections.append(f'<div class="dms-images"><div style="{render.MUTED_STYLE}">{len(rows)} image'
                        f'{"s" if len(rows) != 1 else ""} {verb}</div>{thumbs}'
                        f'<div class="dms-images-not-masked" style="margin:2px 0"><b>⚠ {esc(IMAGES_NOT_MASKED)}</b>'
                        f'</div></div>')
    transcript = list(loop.transcript) if loop is not None else []
    pending = list(calls)
    if transcript or pending:
        cell = "padding:1px 6px;text-align:left;vertical-align:top;border:1px solid #8c959f"
        body = "".join(
            f'<tr><td style="{cell}">{run.round}</td><td style="{cell}"><code>{esc(run.call.name)}</code></td>'
            f'<td style="{cell}"><code>{esc(run.call.arguments_raw)}</code></td>'
            f'<td style="{cell}">{"✓" if run.ok else "✗"} <code>{esc(_short(run.message["content"]))}</code></td></tr>'
            for run in transcript)
        body += "".join(
            f'<tr><td style="{cell}">–</td><td style="{cell}"><code>{esc(call.name)}</code></td>'
            f'<td style="{cell}"><code>{esc(call.arguments_raw)}</code></td>'
            f'<td style="{cell}">not run{" (round limit)" if loop is not None else ""}</td></tr>'
            for call in pending)
        title = "tool calls"
        if loop is not None:
            title += f" · {loop.rounds} round{'s' if loop.rounds != 1 else ''}"
            if loop.stopped == "max_rounds":
                title += " · stopped at the round limit (--run-tools N)"
        sections.append(f'<div class="dms-tool-calls"><div style="{render.MUTED_STYLE}">{esc(title)}</div>'
                        f'<table style="{render.TABLE_STYLE}"><tr><th style="{cell}">round</th>'
                        f'<th style="{cell}">tool</th><th style="{cell}">arguments</th>'
                        f'<th style="{cell}">result</th></tr>{body}</table></div>')
    if masked and (transcript or pending):
        sections.append(_sensitive_html([r.call for r in transcript] + pending, rule, messages or []))
    if not sections:
        return ""
    return (f'<div class="dms-card-extras {getattr(render, "VIEW_CLASS", "")}" style="{render.CARD_STYLE}">'
            + "".join(sections) + "</div>")


def _sensitive_html(calls: list[Any], rule: str | None, messages: list[dict]) -> str:
    from dms_magic.masking import DEFAULT_RULE
    from dms_magic.tools import sensitive_arguments

    rule = rule or DEFAULT_RULE
    found = sensitive_arguments(calls, rule)
    note = ("Masking was on: the model saw masked text only, so arguments it built from that text may "
            "carry masked values, not your real ones.")
    if found:
        items = "".join(f"<li><code>{esc(a.tool)}.{esc(a.path)}</code> = <code>{esc(a.value)}</code> "
                        f"({esc(', '.join(a.entities) or 'looks masked')})</li>" for a in found)
        flagged = f'<div>arguments that look sensitive:</div><ul style="margin:2px 0">{items}</ul>'
    else:
        flagged = "<div>no argument looks sensitive to the local engine.</div>"
    saw = "".join(f'<div><b>{esc(role)}</b>: <span style="white-space:pre-wrap">{esc(_short(text, 2000))}</span></div>'
                  for role, text in model_saw(messages, rule))
    return (f'<div class="dms-tool-masking" style="margin-top:6px"><div>{esc(note)}</div>{flagged}'
            f'<div style="{render.MUTED_STYLE}">what the model saw (local masking preview, rule {esc(rule)})</div>'
            f'{saw}</div>')


def extras_text(*, images: Iterable[Mapping] = (), calls: Iterable[Any] = (), loop: Any = None,
                masked: bool = False, rule: str | None = None, messages: list[dict] | None = None,
                dry_run: bool = False) -> str:
    """The plain-text view of ``extras_html`` (text/plain, logs)."""
    from dms_magic.images import IMAGES_NOT_MASKED

    calls = list(calls)
    lines = []
    rows = image_rows(images)
    if rows:
        lines.append(f"{len(rows)} image{'s' if len(rows) != 1 else ''} {'would be sent' if dry_run else 'sent'}: "
                     + "; ".join(_image_label(r) for r in rows))
        lines.append(IMAGES_NOT_MASKED)
    for run in (loop.transcript if loop is not None else []):
        lines.append(f"round {run.round}: {run.call.name}({run.call.arguments_raw}) -> "
                     f"{'' if run.ok else '[failed] '}{_short(run.message['content'])}")
    for call in calls:
        lines.append(f"tool call (not run): {call.name}({call.arguments_raw})")
    if masked and ((loop is not None and loop.transcript) or list(calls)):
        from dms_magic.masking import DEFAULT_RULE
        from dms_magic.tools import sensitive_arguments

        all_calls = [r.call for r in (loop.transcript if loop is not None else [])] + list(calls)
        for a in sensitive_arguments(all_calls, rule or DEFAULT_RULE):
            lines.append(f"sensitive-looking argument {a.tool}.{a.path} = {a.value} "
                         f"({', '.join(a.entities) or 'looks masked'})")
    return "\n".join(lines)


def _short(text: Any, limit: int = 300) -> str:
    from dms_magic.wire.values import shorten  # the package's one shorten

    return shorten(str(text), limit)


# -- the magic's side: options, reading them, running, showing -------------------------------------
class CellExtras:
    """What one ``%%dmschat`` cell asked for beyond text: images, tools, ``--run-tools``."""

    def __init__(self, images: list[dict], functions: list, run_tools: int | None, tools: bool):
        self.images, self.functions, self.run_tools, self.tools = images, functions, run_tools, tools

    @classmethod
    def read(cls, args: Any, params: dict[str, Any], namespace: Mapping[str, Any]) -> "CellExtras":
        """Read ``--image``, ``--tools`` and ``--run-tools``; with tools the cell streams (the SDK
        has Tools on the streaming action only), so ``params["stream"]`` is set."""
        images = read_images(getattr(args, "image", None), namespace)
        rounds = getattr(args, "run_tools", None)
        has_tools = params.get("tools") is not None
        functions: list = []
        if rounds is not None:
            if not has_tools:
                raise UsageError("--run-tools needs --tools $var: the functions the model may call")
            if rounds < 1:
                raise UsageError(f"--run-tools {rounds}: give the most rounds to run, an integer >= 1")
            functions = read_tools(getattr(args, "tools", None), namespace)[1]
        if has_tools and getattr(args, "compare", False) and not getattr(args, "dry_run", False):
            raise UsageError("--compare sends two plain calls, and tools need the streaming action: "
                             "drop --compare, or --tools")
        if has_tools:
            params["stream"] = True
        return cls(images, functions, rounds, has_tools)

    def add_images(self, messages: list[dict]) -> list[dict]:
        from dms_magic.images import ImageError, with_images

        if not self.images:
            return messages
        try:
            return with_images(messages, self.images)
        except ImageError as exc:
            raise UsageError(f"--image: {exc}") from None

    def complete(self, client: Any, messages: list[dict], params: Mapping[str, Any]):
        """(result, the whole conversation, the loop or None, calls asked for but not run)."""
        if self.run_tools is not None:
            loop = run_tool_rounds(client, messages, params, self.functions, self.run_tools)
            pending = list(loop.result.tool_calls) if loop.stopped == "max_rounds" else []
            return loop.result, loop.messages, loop, pending
        with client.stream(messages, **params) as stream:
            for _ in stream:
                pass
            result = stream.result
        return result, messages, None, list(result.tool_calls)

    def sections(self, *, messages: list[dict], params: Mapping[str, Any], loop: Any = None,
                 pending: Iterable[Any] = (), dry_run: bool = False) -> tuple[str, str]:
        """(html, text) of the card's extra sections for this cell."""
        pending = list(pending)
        options = dict(images=self.images, calls=pending, loop=loop, masked=bool(params.get("need_desensitization")),
                       rule=params.get("desensitization_rule"), messages=messages, dry_run=dry_run)
        return extras_html(**options), extras_text(**options)


def shorten_data_urls(values: Mapping[str, str]) -> dict[str, str]:
    """Wire values for display: each base64 data: URL cut to its head and size (a dry run must not
    put megabytes of base64 on the page)."""
    pattern = re.compile(r"data:([\w.+-]+/[\w.+-]+);base64,([A-Za-z0-9+/=]{64,})")
    return {k: pattern.sub(lambda m: f"data:{m.group(1)};base64,{m.group(2)[:16]}… ({len(m.group(2)):,} characters)", v)
            for k, v in values.items()}


def text_messages(messages: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Each message with its content as text (the text parts joined; images left out): what the
    local masking preview and the prompt-token estimate read."""
    from dms_magic.wire._messages import content_text

    return [{**m, "content": content_text(m.get("content"))} for m in messages]


def image_prompt_tokens(messages: list[dict], params: Mapping[str, Any]) -> int:
    """The prompt tokens the images cost, counted as the sandbox and Qwen-VL count them."""
    from dms_magic.sandbox.multimodal import prompt_image_tokens

    return prompt_image_tokens(messages, high_resolution=bool(params.get("vl_high_resolution_images")))


# -- the form's side --------------------------------------------------------------------------------
class ImageUpload:
    """The form's image control: a FileUpload (images only, several at once), a thumbnail strip of
    what will be sent and the sentence that images are sent as they are. ``.parts()`` are the image
    parts (checked like ``--image``: format and size, before any traffic); ``.add_to(messages)``."""

    def __init__(self) -> None:
        import ipywidgets as W

        self.upload = W.FileUpload(accept="image/png,image/jpeg,image/gif,image/webp,image/bmp", multiple=True,
                                   description="images")
        self.upload.add_class("dms-image-upload")
        self.clear_button = W.Button(description="no images", icon="times", tooltip="Remove the uploaded images")
        self.clear_button.on_click(lambda _b: self.clear())
        self.thumbnails = W.HTML("")
        self.thumbnails.add_class("dms-image-thumbnails")
        self.upload.observe(self._changed, names="value")
        self.widget = W.VBox([W.HBox([self.upload, self.clear_button]), self.thumbnails])

    def files(self) -> list[tuple[str, bytes]]:
        """(name, bytes) of each uploaded file, in order (ipywidgets 8's value: a tuple of dicts)."""
        return [(str(item.get("name", "image")), bytes(item.get("content", b""))) for item in self.upload.value or ()]

    def parts(self) -> list[dict]:
        from dms_magic.images import image_part

        return [image_part(data, name=name) for name, data in self.files()]

    def add_to(self, messages: list[dict]) -> list[dict]:
        from dms_magic.images import with_images

        parts = self.parts()
        return with_images(messages, parts) if parts else messages

    def clear(self) -> None:
        self.upload.value = ()
        self.thumbnails.value = ""

    def _changed(self, _change: Any = None) -> None:
        from dms_magic.images import ImageError

        try:
            parts = self.parts()
        except ImageError as exc:  # named next to the control; Send refuses it the same way
            self.thumbnails.value = f'<span style="color:#82071e">{esc(exc)}</span>'
            return
        self.thumbnails.value = extras_html(images=parts, dry_run=True) if parts else ""


def sent_images(messages: list[dict]) -> list[dict]:
    """The image parts of the last message (what a send added)."""
    from dms_magic.images import content_images

    return content_images(messages[-1].get("content")) if messages and isinstance(messages[-1], Mapping) else []
