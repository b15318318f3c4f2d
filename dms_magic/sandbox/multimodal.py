"""What the sandbox does with images and tools: pure functions the app and generator call.

- ``image_tokens(part)``: the prompt tokens an image costs, by Qwen-VL's documented rule.
- ``describe_images(parts)``: an answer sentence stating the number, format and size of the images.
- ``tool_call_for(tools, messages)``: when the last user message names a tool, a call to it with
  arguments that fit its schema, taken from values in the prompt.
- ``answer_after_tools(messages)``: an answer that uses the content of the trailing tool messages.
- ``preface(messages)``: both sentences above, as the sandbox app puts them before its answer;
  ``prompt_image_tokens(messages)``: the images' share of the prompt tokens.

No I/O, no randomness: the same request gives the same answer (the sandbox's replays rely on it).
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, Iterable, Mapping, Sequence

from dms_magic.wire._messages import content_text
from dms_magic.images import content_images, decode_data_url, image_dimensions, image_summary, sniff_format
from dms_magic.wire._toolcalls import call_id_for
from dms_magic.wire._json import compact_json

__all__ = ["image_tokens", "describe_images", "tool_call_for", "answer_after_tools", "last_user_text",
           "request_images", "prompt_image_tokens", "preface",
           "PATCH_PIXELS", "MIN_IMAGE_TOKENS", "MAX_IMAGE_TOKENS", "MAX_IMAGE_TOKENS_HIGH_RES"]

# Qwen-VL's image token rule, from Alibaba Cloud Model Studio's vision guide (视觉理解, "图像Token
# 换算"; quoted at https://www.cnblogs.com/rolandhe/p/19329636): each side is rounded to a multiple of
# the patch (28 px for Qwen2.5-VL and QVQ; 32 px for Qwen3-VL), the pixel count is then scaled into
# [4, max] patches keeping the aspect ratio, and
#     tokens = h_bar * w_bar / patch**2 + 2        (+2: the vision start/end tokens)
# max is 1280 patches by default and 16,384 with VlHighResolutionImages (the API reference: "increase
# the input image pixel limit to the equivalent of 16,384 tokens"). The same smart_resize is in
# qwen_vl_utils (IMAGE_MIN_TOKEN_NUM = 4, IMAGE_MAX_TOKEN_NUM = 16384).
PATCH_PIXELS = 28
MIN_IMAGE_TOKENS = 4
MAX_IMAGE_TOKENS = 1280
MAX_IMAGE_TOKENS_HIGH_RES = 16384
_VISION_MARKERS = 2


def image_tokens(part: Mapping | str, *, high_resolution: bool = False, patch: int = PATCH_PIXELS) -> int:
    """Prompt tokens for one image part (or its URL), like Qwen-VL counts them.

    A data: URL's size is read from its header. An http(s) URL is not fetched (the sandbox makes
    no outside traffic), so it is counted at the cap — the most it can cost.
    """
    cap = MAX_IMAGE_TOKENS_HIGH_RES if high_resolution else MAX_IMAGE_TOKENS
    size = _part_size(part)
    if size is None:
        return cap + _VISION_MARKERS
    width, height = size
    return vl_patches(width, height, max_tokens=cap, patch=patch) + _VISION_MARKERS


def vl_patches(width: int, height: int, *, max_tokens: int = MAX_IMAGE_TOKENS, patch: int = PATCH_PIXELS) -> int:
    """The number of patches after Qwen-VL's resize (smart_resize) of a width x height image."""
    if width <= 0 or height <= 0:
        return MIN_IMAGE_TOKENS
    min_pixels, max_pixels = MIN_IMAGE_TOKENS * patch * patch, max_tokens * patch * patch
    h_bar = max(patch, round(height / patch) * patch)
    w_bar = max(patch, round(width / patch) * patch)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(patch, math.floor(height / beta / patch) * patch)
        w_bar = max(patch, math.floor(width / beta / patch) * patch)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / patch) * patch
        w_bar = math.ceil(width * beta / patch) * patch
    return (h_bar // patch) * (w_bar // patch)


def _part_size(part: Mapping | str) -> tuple[int, int] | None:
    url = part if isinstance(part, str) else _url_of(part)
    if not isinstance(url, str) or url[:5].lower() != "data:":
        return None
    try:
        _, data = decode_data_url(url)
    except ValueError:
        return None
    return image_dimensions(data, sniff_format(data))


def _url_of(part: Mapping) -> Any:
    inner = part.get("image_url")
    return inner.get("url") if isinstance(inner, Mapping) else inner


def describe_images(parts: Sequence[Mapping]) -> str:
    """One sentence: how many images arrived, and each one's format, pixel size and bytes."""
    if not parts:
        return "I received no images."
    descriptions = []
    for part in parts:
        try:
            info = image_summary(part)
        except ValueError:
            descriptions.append("an unreadable image")
            continue
        if info["source"] == "url":
            fmt = f"a {info['format']} image" if info["format"] else "an image"
            descriptions.append(f"{fmt} at a URL ({info['url']}), which the sandbox does not fetch")
            continue
        size = f"{info['width']}x{info['height']} pixels" if info["width"] else "unknown size"
        descriptions.append(f"{info['format'] or 'an unknown format'} {size}, {info['bytes']:,} bytes")
    count = f"{len(parts)} image" + ("s" if len(parts) != 1 else "")
    return f"I received {count}: " + "; ".join(descriptions) + "."


def request_images(messages: Sequence[Mapping]) -> list[Mapping]:
    """Every image part of the conversation, in order (what the model is sent)."""
    return [p for m in messages if isinstance(m, Mapping) for p in content_images(m.get("content"))]


def prompt_image_tokens(messages: Sequence[Mapping], *, high_resolution: bool = False) -> int:
    """The prompt tokens all the conversation's images cost (``image_tokens`` of each)."""
    return sum(image_tokens(p, high_resolution=high_resolution) for p in request_images(messages))


def preface(messages: Sequence[Mapping]) -> str:
    """What the sandbox says before its generator's answer: the tool results it was given (when the
    conversation ends with tool messages) and the images it received (number, format, size)."""
    said = [answer_after_tools(messages)]
    images = request_images(messages)
    if images:
        said.append(describe_images(images))
    return " ".join(s for s in said if s)


# --- tools ---------------------------------------------------------------------------------------

def last_user_text(messages: Sequence[Mapping]) -> str | None:
    """The text of the last message when it is the user's (None when the conversation ends otherwise)."""
    if not messages or not isinstance(messages[-1], Mapping) or messages[-1].get("role") != "user":
        return None
    return content_text(messages[-1].get("content"))


def _tool_round(messages: Sequence[Mapping]) -> tuple[str, set[str]] | None:
    """(the last user message's text, the tools called since) when the conversation ends with that
    message or with the tool rounds answering it; None otherwise (e.g. it ends with an answer)."""
    for i in range(len(messages) - 1, -1, -1):
        message = messages[i]
        role = message.get("role") if isinstance(message, Mapping) else None
        if role == "user":
            called = set(_call_names(messages[i + 1:]).values())
            return content_text(message.get("content")), called
        if role == "tool" or (role == "assistant" and message.get("tool_calls")):
            continue
        return None
    return None


def tool_call_for(tools: Any, messages: Sequence[Mapping], *, tool_choice: Any = None) -> dict | None:
    """The next tool call answering the conversation, or None (then answer with text).

    The last user message's text names tools (whole words, any case); each is called once, in the
    order the text names them, one per round: the first round calls the first, and after its
    ``tool`` message the next round calls the next, so "get_weather, then book_table" is a
    two-round conversation. ``tool_choice`` forcing a function calls that one (once);
    ``tool_choice="required"`` calls the first tool when the text names none; ``"none"`` gives None. The call is
    ``{"id", "type": "function", "index": 0, "function": {"name", "arguments": "<json>"}}`` with
    arguments that fit the tool's schema: each parameter given by name in the prompt
    (``city=Hangzhou``, ``city: "Hangzhou"``, ``days is 3``) takes that value; required ones not
    named are filled from the prompt by type (quoted strings, numbers, true/false, enum values,
    capitalised names, else a word of the prompt), else with a neutral value of the right type.
    """
    specs = _specs(tools)
    state = _tool_round(messages)
    if not specs or state is None or tool_choice == "none":
        return None
    text, called = state
    forced = _forced_name(tool_choice)
    if forced:
        spec = next((s for s in specs if s["name"] == forced and forced not in called), None)
    else:
        spec = next((s for s in _named_in(specs, text) if s["name"] not in called), None)
        if spec is None and tool_choice == "required" and not called:  # a call is required: the first tool
            spec = specs[0]
    if spec is None:
        return None
    arguments = _arguments_for(spec, text)
    raw = compact_json(arguments)
    return {"id": call_id_for(spec["name"], raw, salt=text), "type": "function", "index": 0,
            "function": {"name": spec["name"], "arguments": raw}}


def _specs(tools: Any) -> list[dict]:
    if isinstance(tools, str):
        try:
            tools = json.loads(tools)
        except ValueError:
            return []
    out = []
    for tool in tools or []:
        if not isinstance(tool, Mapping):
            continue
        function = tool.get("function", tool)
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            params = function.get("parameters")
            out.append({"name": function["name"], "parameters": params if isinstance(params, Mapping) else {}})
    return out


def _forced_name(choice: Any) -> str | None:
    """The function ``tool_choice`` forces (its JSON object form), or None."""
    if isinstance(choice, str) and choice.strip().startswith("{"):
        try:
            choice = json.loads(choice)
        except ValueError:
            return None
    if isinstance(choice, Mapping):
        function = choice.get("function")
        return function.get("name") if isinstance(function, Mapping) else None
    return None


def _named_in(specs: list[dict], text: str) -> list[dict]:
    """The tools the text names, in the order it names them first.

    One pass over the text for all the tools (one regex of every name): a search per tool cost
    350 tools x a 10 MB prompt = 270 s per request, with the GIL held. A tool name is a word of the
    prompt, not inside a longer identifier (get_weather_v2); as API names are made of word
    characters and '-', such words never overlap, so one pass finds each name's first mention."""
    by_name: dict[str, list[dict]] = {}
    for spec in specs:
        if spec["name"]:
            by_name.setdefault(spec["name"].lower(), []).append(spec)
    if not by_name:
        return []
    names = sorted(by_name, key=len, reverse=True)  # at one place, the longest name that fits wins
    pattern = re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, names)) + r")(?![\w-])", re.IGNORECASE)
    first: dict[str, int] = {}
    for match in pattern.finditer(text):
        first.setdefault(match.group(0).lower(), match.start())
        if len(first) == len(by_name):
            break
    ordered = sorted((position, name) for name, position in first.items() if name in by_name)
    return [spec for _, name in ordered for spec in by_name[name]]


_QUOTED = re.compile(r'"([^"\n]*)"|“([^”\n]*)”|「([^」\n]*)」|\'([^\'\n]*)\'')
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
_WORD = re.compile(r"\d{1,4}(?:[:/-]\d{1,4})+|[A-Za-z\u00c0-\u024f][\w'.-]*|[\u4e00-\u9fff]{2,}")
_MOMENT = re.compile(r"\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2})?)?|\d{1,2}:\d{2}(?::\d{2})?")
_CAPITALISED = re.compile(r"(?<![\w-])[A-Z][\w'-]*(?:[ \t]+[A-Z][\w'-]*)*")
_HAN_STOPWORDS = ("请", "帮我", "调用", "使用", "查询", "查", "一下")
_STOPWORDS = set("""a an and are as at be by call can could do for from get give how i in is it me my of on or
please run show tell that the this to tool use using what when where which who with would you your 请 调用 使用 查询 帮我
""".split())


def _arguments_for(spec: dict, text: str) -> dict:
    params = spec["parameters"]
    properties = params.get("properties") if isinstance(params.get("properties"), Mapping) else {}
    required = [r for r in params.get("required", []) if r in properties] if isinstance(
        params.get("required"), list) else []
    used: set[str] = set()
    arguments: dict[str, Any] = {}
    rest = text  # what is left for by-type filling: the prompt without its name=value pairs
    for name, schema in properties.items():
        schema = schema if isinstance(schema, Mapping) else {}
        match = _by_name(name, text)
        if match is not None:
            raw = next(g for g in match.groups() if g is not None)
            arguments[name] = _convert(raw, schema)
            used.add(str(arguments[name]))
            rest = rest.replace(match.group(0), " ")
    excluded = {spec["name"].lower()} | {str(name).lower() for name in properties}
    for name in required:
        if name in arguments:
            continue
        schema = properties[name] if isinstance(properties[name], Mapping) else {}
        value = _by_type(schema, rest, used, exclude=excluded, name=name)
        arguments[name] = value
        used.add(str(value))
    return {name: arguments[name] for name in properties if name in arguments}


def _by_name(name: str, text: str) -> re.Match | None:
    pattern = (re.escape(name) + r"\s*(?:=|:|：|\bis\b|为|是)\s*"
               r'(?:"([^"\n]*)"|“([^”\n]*)”|\'([^\'\n]*)\'|([^\s,;，；。]+))')
    return re.search(r"(?<![\w-])" + pattern, text, re.IGNORECASE)


def _kind(schema: Mapping) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind is None and isinstance(schema.get("anyOf"), list):
        kind = next((_kind(s) for s in schema["anyOf"] if isinstance(s, Mapping) and s.get("type") != "null"),
                    "string")
    return kind if isinstance(kind, str) else "string"


def _convert(raw: str, schema: Mapping) -> Any:
    """A prompt value as the schema's type; an unconvertible value falls back to its neutral value."""
    kind = _kind(schema)
    enum_values = schema.get("enum")
    if isinstance(enum_values, list) and enum_values:
        for option in enum_values:
            if str(option).lower() == raw.lower():
                return option
        return enum_values[0]
    try:
        if kind == "integer":
            return int(float(raw))
        if kind == "number":
            number = float(raw)
            return int(number) if number.is_integer() and "." not in raw else number
    except ValueError:
        return _neutral(schema)
    if kind == "boolean":
        return raw.lower() in ("true", "yes", "1", "on", "是", "对")
    if kind == "array":
        items: Any = schema.get("items") if isinstance(schema.get("items"), Mapping) else {}
        return [_convert(piece.strip(), items) for piece in re.split(r"[,，、]", raw) if piece.strip()]
    if kind == "object":
        try:
            value = json.loads(raw)
            return value if isinstance(value, dict) else {}
        except ValueError:
            return {}
    return raw


def _by_type(schema: Mapping, text: str, used: set[str], *, exclude: set[str], name: str = "") -> Any:
    kind = _kind(schema)
    enum_values = schema.get("enum")
    if isinstance(enum_values, list) and enum_values:
        for option in enum_values:
            if re.search(r"(?<!\w)" + re.escape(str(option)) + r"(?!\w)", text, re.IGNORECASE):
                return option
        return enum_values[0]
    if kind in ("integer", "number"):
        for match in _NUMBER.finditer(text):
            if match.group() not in used:
                return _convert(match.group(), schema)
        return _neutral(schema)
    if kind == "boolean":
        return bool(re.search(r"(?<!\w)(true|yes|是)(?!\w)", text, re.IGNORECASE))
    if kind == "array":
        items: Any = schema.get("items") if isinstance(schema.get("items"), Mapping) else {}
        value = _by_type(items, text, used, exclude=exclude, name=name)
        return [value] if value not in ("", None) else []
    if kind == "object":
        return {}
    for match in _QUOTED.finditer(text):
        value = next(g for g in match.groups() if g is not None)
        if value and value not in used:
            return value
    unquoted = _QUOTED.sub(" ", text)  # a quoted value is taken whole or not at all
    if schema.get("format") in ("date", "date-time", "time") or re.search(r"time|date|when", name, re.IGNORECASE):
        moment = next((m for m in _MOMENT.findall(unquoted) if m not in used), None)
        if moment:
            return moment

    def usable(word: str) -> bool:
        return bool(word) and word.lower() not in _STOPWORDS and word.lower() not in exclude and word not in used

    # A run of capitalised words is most likely the value ("New York", "Lost Heaven"); then any
    # other word, time or date; the last one wins ("weather for Hangzhou").
    names = [run for run in (m.group().strip() for m in _CAPITALISED.finditer(unquoted)) if usable(run)]
    if names:
        return names[-1]
    words = [w.rstrip(".") for w in _WORD.findall(unquoted)]
    words = [_strip_han_stopwords(w) for w in words]
    candidates = [w for w in words if usable(w)]
    return candidates[-1] if candidates else ""


def _strip_han_stopwords(word: str) -> str:
    changed = True
    while changed and word:
        changed = False
        for stop in _HAN_STOPWORDS:
            if word.startswith(stop) and len(word) > len(stop):
                word, changed = word[len(stop):], True
    return word


def _neutral(schema: Mapping) -> Any:
    return {"integer": 0, "number": 0, "boolean": False, "array": [], "object": {}}.get(_kind(schema), "")


def answer_after_tools(messages: Sequence[Mapping]) -> str:
    """An answer built from the tool messages that answer the last user message (every round's,
    in order, each named by the call it answers).

    Returns "" when the conversation does not end with a tool message.
    """
    if not messages or not isinstance(messages[-1], Mapping) or messages[-1].get("role") != "tool":
        return ""
    start = next((i + 1 for i in range(len(messages) - 1, -1, -1)
                  if isinstance(messages[i], Mapping) and messages[i].get("role") == "user"), 0)
    names = _call_names(messages[start:])
    sentences = []
    for message in messages[start:]:
        if not isinstance(message, Mapping) or message.get("role") != "tool":
            continue
        content = content_text(message.get("content"))
        name = names.get(str(message.get("tool_call_id")), message.get("name") or "the tool")
        if content.startswith("Error:"):
            sentences.append(f"The tool {name} failed ({content[6:].strip()}), so I cannot use its result.")
        else:
            said = content.strip() or "(nothing)"
            sentences.append(f"The tool {name} returned: {said}" + ("" if said[-1] in ".!?。" else "."))
    return "Based on the tool results: " + " ".join(sentences)


def _call_names(messages: Iterable[Mapping]) -> dict[str, str]:
    names: dict[str, str] = {}
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        for call in message.get("tool_calls") or []:
            if isinstance(call, Mapping):
                function: Any = call.get("function") if isinstance(call.get("function"), Mapping) else call
                if call.get("id") is not None and isinstance(function.get("name"), str):
                    names[str(call["id"])] = function["name"]
    return names
