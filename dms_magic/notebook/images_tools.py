"""What ``%%dmschat`` and the form add for images and tools (issue 15), apart from the magic itself.

- ``read_images(values, namespace)``: ``--image PATH_OR_URL_OR_$var`` values -> image parts
  (``$var`` may hold a path, bytes, a PIL image, a matplotlib figure, a URL or a list of them).
- ``read_tools(text, namespace)``: ``--tools $var`` (or JSON text) -> (tools for the request,
  what ``--run-tools`` may call: the callables given, and for spec dicts the functions of the same
  name in the user namespace).
- the card's sections (thumbnails, tool calls) are drawn by ``dms_magic.views.extras``
  (``extras_html`` / ``extras_text``, imported here for the cell and the form).

Every failure a person can fix is a ``UsageError`` naming the option (the magic shows one line).
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from IPython.core.error import UsageError

from dms_magic.views.extras import extras_html, extras_text

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
def image_names(values: Iterable[str] | None, namespace: Mapping[str, Any]) -> list[str]:
    """The name of each image ``read_images`` reads, in order: a file's name, a URL, or ``$var``
    (``$var[i]`` for the items of a list), for the card's thumbnails."""
    import os

    names: list[str] = []
    for text in values or []:
        is_var, value = _variable("--image", text, namespace)
        if is_var and isinstance(value, (list, tuple)):
            names.extend(f"{text}[{i}]" for i in range(len(value)))
        elif is_var:
            names.append(text)
        else:
            names.append(text if "://" in text else os.path.basename(text) or text)
    return names


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


# -- the magic's side: options, reading them, running, showing -------------------------------------
class CellExtras:
    """What one ``%%dmschat`` cell asked for beyond text: images, tools, ``--run-tools``."""

    def __init__(self, images: list[dict], functions: list, run_tools: int | None, tools: bool):
        self.images, self.functions, self.run_tools, self.tools = images, functions, run_tools, tools
        self.image_names: list[str] = []  # for the thumbnails' captions

    @classmethod
    def read(cls, args: Any, params: dict[str, Any], namespace: Mapping[str, Any]) -> "CellExtras":
        """Read ``--image``, ``--tools`` and ``--run-tools``; with tools the cell streams (the SDK
        has Tools on the streaming action only), so ``params["stream"]`` is set."""
        images = read_images(getattr(args, "image", None), namespace)
        names = image_names(getattr(args, "image", None), namespace)
        rounds = getattr(args, "run_tools", None)
        tools_text = (getattr(args, "params", None) or {}).get("tools", getattr(args, "tools", None))
        has_tools = params.get("tools") is not None
        functions: list = []
        if rounds is not None:
            if not has_tools:
                raise UsageError("--run-tools needs --tools $var: the functions the model may call")
            if rounds < 1:
                raise UsageError(f"--run-tools {rounds}: give the most rounds to run, an integer >= 1")
            functions = read_tools(tools_text, namespace)[1]
        if has_tools and getattr(args, "compare", False) and not getattr(args, "dry_run", False):
            raise UsageError("--compare sends two plain calls, and tools need the streaming action: "
                             "drop --compare, or --tools")
        if has_tools:
            params["stream"] = True
        extras = cls(images, functions, rounds, has_tools)
        extras.image_names = names
        return extras

    def add_images(self, messages: list[dict]) -> list[dict]:
        from dms_magic.images import ImageError, with_images

        if not self.images:
            return messages
        try:
            return with_images(messages, self.images)
        except ImageError as exc:
            raise UsageError(f"--image: {exc}") from None


    def sections(self, *, messages: list[dict], params: Mapping[str, Any], loop: Any = None,
                 pending: Iterable[Any] = (), dry_run: bool = False) -> tuple[str, str]:
        """(html, text) of the card's extra sections for this cell."""
        pending = list(pending)
        options = dict(images=self.images, image_names=self.image_names, calls=pending, loop=loop, masked=bool(params.get("need_desensitization")),
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


