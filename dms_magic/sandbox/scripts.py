"""What the sandbox's generator can say: its phrase sets, and the few things copied from the prompt.

The generator (generator.py) never invents words. It walks *phrase sets*: each phrase is a
sentence template whose slots offer a few interchangeable words, so every path through it is a
whole, grammatical sentence. Around them it copies (with certainty, as a model copies from its
context) a short label, the request's instruction clause, and the specific values the prompt
contained (numbers, e-mail addresses, masked values), so the effect of masking stays visible in
the answer without echoing the whole prompt. English or Chinese, following the language of the
last user message.

A phrase is a tuple of parts: a ``str`` is said as is, a ``tuple`` of strings is a slot whose
alternatives are ranked (the first most likely). Rules the tests check for every set: parts end
on token boundaries (whitespace leads a part, never trails it), no expansion is a token prefix of another in its set, and no phrase holds a
quote or a backslash (a phrase is also the ``reply`` string of a JSON-mode answer).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ..wire import params as P
from ..wire.values import shorten
from ..wire.tokens import first_tokens, is_cjk_heavy

# Parameters the sandbox validates but cannot act on: the answer says so instead of dropping them.
CLOUD_ONLY = ("enable_search", "search_options", "enable_code_interpreter", "modalities_list", "audio_json",
              "vl_high_resolution_images", "xdash_scope_data_inspection")

QUOTE_TOKENS = 16  # the acknowledged instruction is cut after this many tokens ("…")
MAX_DETAILS = 4  # specific values carried over from the prompt

Phrase = tuple  # of str | tuple[str, ...]

LABEL_EN = "[sandbox, not an LLM]"
LABEL_ZH = "【沙箱，非大模型】"

# The acknowledgement: a head, the request's instruction clause (copied), a tail.
ACK_HEAD_EN: tuple[Phrase, ...] = (
    ((" Sure.", " Okay.", " Got it."), (" About", " Regarding", " On"), " “"),
)
ACK_TAIL_EN: tuple[Phrase, ...] = (
    ("”:", (" here is", " this is", " below is"), (" a short", " a brief", " the sandbox's"),
     (" reply", " answer", " response"), "."),
)
ACK_HEAD_ZH: tuple[Phrase, ...] = (
    (("好的", "收到", "明白了", "可以"), "，", ("关于", "针对", "对于"), "“"),
)
ACK_TAIL_ZH: tuple[Phrase, ...] = (
    ("”，", ("下面是", "这里是", "以下是"), ("一段", "沙箱", "我"), ("简短的", "本地的", "简要的"),
     ("回复", "回答"), "。"),
)
# Before the specific values the prompt contained (the values themselves are copied).
DETAILS_EN: tuple[Phrase, ...] = (
    ((" I will use", " I will keep", " I kept", " I used"), (" the details", " the values", " what"), " you gave:"),
)
DETAILS_ZH: tuple[Phrase, ...] = (
    (("我会用到", "我保留了", "回复里用到", "我会保留"), ("你提供的", "你给出的", "提示中的"), "信息："),
)

# The body: sentences drawn without replacement until the generator samples the end of text.
BODY_EN: tuple[Phrase, ...] = (
    ((" The sandbox", " This sandbox"), (" answers", " replies", " runs"), (" locally", " offline"), ", so",
     (" nothing", " no data"), (" left", " leaves"), (" this machine", " your computer"), "."),
    ((" Masked", " Protected"), " values", (" stay", " remain"), (" masked", " hidden"), " in",
     (" this answer", " the reply", " my reply"), "."),
    ((" Switch to", " Point dms_magic at", " Configure"), " a real DMS endpoint to", (" get", " receive"),
     (" an answer", " a reply"), " from a Qwen model."),
    ((" Each", " Every"), " token", (" here", " in this reply"), " was", (" sampled", " drawn", " picked"), " from a",
     (" small", " fixed"), (" set of phrases", " probability table", " phrase table"), "."),
    ((" Try", " Use"), (" another", " a different"), (" seed", " temperature"), (" to see", " to watch"), " the",
     (" sampling", " answer"), " change."),
    ((" Identical", " The same"), " seeds and", (" parameters", " settings"), (" give", " produce", " return"),
     (" identical", " the same"), " answers."),
    ((" Logprobs", " Log probabilities"), " show how", (" sure", " confident", " certain"), " the generator was",
     (" about", " of"), " each token."),
    ((" Masking", " Desensitization"), (" replaces", " covers", " hides"),
     (" phone numbers, ID cards and names", " personal details", " sensitive values"), " before the model",
     (" sees", " reads"), " them."),
    ((" A real model", " Qwen"), " would", (" write", " draft", " give"), " the full",
     (" text", " answer", " response"), " here."),
    ((" Usage", " The usage table"), " counts the tokens the model", (" read", " received"), " and",
     (" wrote", " generated"), "."),
)
BODY_ZH: tuple[Phrase, ...] = (
    ("沙箱", ("在本地", "在这台机器上", "在本机"), ("回答", "生成回复", "作答"), "，", ("数据", "内容", "信息"),
     ("没有", "不会", "并未"), "离开", ("这台机器", "你的电脑", "本机"), "。"),
    (("被脱敏的", "脱敏后的", "已脱敏的"), ("内容", "信息", "字段"), "在", ("回答", "回复"), "中",
     ("依旧", "仍然", "依然"), ("保持", "维持"), "脱敏。"),
    (("换成", "切换到", "改用"), ("真实的", "正式的"), (" DMS 端点", " DMS 服务"), ("即可", "就能", "便能"),
     ("得到", "拿到", "获得"), ("通义千问", "千问"), "模型的", ("回答", "回复"), "。"),
    (("每个", "每一个"), "词元都", ("来自", "采样自", "取自"), "一个", ("小的", "固定的", "小型的"),
     ("短语表", "概率表"), "。"),
    (("试试", "换个", "换一个"), ("别的", "不同的"), ("种子", "温度"), "，", ("可以", "就能", "便可"),
     ("看到", "看出"), ("采样的", "结果的"), "变化。"),
    (("相同的", "同样的"), "种子和", ("参数", "设置"), ("会得到", "会给出", "总是得到"), ("相同的", "一样的"),
     ("回答", "结果"), "。"),
    (("对数概率", "logprobs"), ("显示了", "反映了", "体现了"), ("生成器", "沙箱"), "对", ("每个", "各个"), "词元的",
     ("把握", "信心", "确定程度"), "。"),
    ("脱敏会把", ("手机号", "身份证号", "姓名", "邮箱"), "等", ("敏感信息", "个人信息"), ("替换", "遮盖", "转换"), "成",
     ("安全的", "无害的"), ("占位符", "形式", "写法"), "。"),
    (("真实的大模型", "通义千问"), ("会在这里", "会在此处"), ("写出", "给出", "生成"), "完整的", ("内容", "回答", "正文"),
     "。"),
    (("用量", "用量表"), ("统计的是", "记录的是"), "模型", ("读入", "收到", "读取"), "和", ("生成", "写出", "输出"),
     "的词元数。"),
)
# Thinking mode: said in order after a copied first sentence, bounded by ThinkingBudget.
REASONING_EN: tuple[tuple[Phrase, ...], ...] = (
    ((" I am the sandbox's generator,", (" so", " and"), " I", (" acknowledge", " note"), " the request",
      (" and add", " before adding"), " a short local reply."),),
    (((" Any", " Each"), (" masked value", " value the prompt gave"), " is", (" copied", " carried"),
      " as I saw it."),),
)
REASONING_ZH: tuple[tuple[Phrase, ...], ...] = (
    (("我是沙箱的生成器，", ("所以", "因此"), "先", ("确认", "复述"), "请求，再", ("补上", "写出"), "一两句本地的回复。"),),
    ((("提示里的", "收到的"), "具体信息", ("照原样", "按我看到的样子"), "写进回复。"),),
)


@dataclass(frozen=True)
class Script:
    """What one answer is made of, in order: copied text (str) and phrase sets to choose from."""

    chinese: bool
    label: str
    ack_head: tuple[Phrase, ...]
    quote: str  # the request's instruction clause, copied ("" for an empty prompt)
    ack_tail: tuple[Phrase, ...]
    details_intro: tuple[Phrase, ...]
    details: str  # the prompt's specific values, joined and closed ("" when there are none)
    notes: str  # cloud-only parameters accepted but not run
    body: tuple[Phrase, ...]
    reasoning_intro: str
    reasoning: tuple[tuple[Phrase, ...], ...]
    json_prefix: str  # JSON mode: copied text before the body ("" otherwise)
    json_suffix: str  # JSON mode: the closing text


def acknowledged_message(messages: list[dict]) -> dict:
    """The message the answer acknowledges: the last user message (else the last one)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return message
    return messages[-1]


_CLAUSE_END = re.compile(r"[。！？!?\n；;，,]|\.(?:\s|$)")
_TRAILING = re.compile(r"[\s\\]+$")
_ASKS = re.compile(r"请|帮我|写|翻译|介绍|解释|总结|整理|回复|起草|查|列出|please|can you|could you|explain|write|"
                   r"draft|summari[sz]e|translate|list|give|tell|describe|what|how|why", re.IGNORECASE)


def instruction_clause(text: str) -> str:
    """The clause that asks for something (else the last one), cut to QUOTE_TOKENS tokens."""
    # No trailing whitespace or backslash: either would join the closing quote mark into one token.
    clauses = [c for c in (_TRAILING.sub("", c).lstrip() for c in _CLAUSE_END.split(text)) if c]
    if not clauses:
        return ""
    clause = next((c for c in clauses if _ASKS.search(c)), clauses[-1])
    tokens = first_tokens(clause, QUOTE_TOKENS + 1)  # not the whole clause: it may be a 0.9 MB prompt
    return clause if len(tokens) <= QUOTE_TOKENS else _TRAILING.sub("", "".join(tokens[:QUOTE_TOKENS])) + "…"


# Values a model would carry into its answer: numbers of 4+ digits (phones, IDs, cards, orders),
# e-mail addresses, and masked values (138****5678, z***@example.com, Z***, 张*).
_SPECIFIC = re.compile(r"[A-Za-z0-9._%+\-*@]+|[\u4e00-\u9fff]\*+")
_QUALIFIES = re.compile(r"[0-9@*]")


def specific_values(text: str, skip: str = "") -> list[str]:
    """The prompt's specific values in order of appearance (not those already in ``skip``)."""
    found: list[str] = []
    for match in _SPECIFIC.finditer(text):
        if _QUALIFIES.search(match.group()) is None:
            continue  # a plain word: qualifying needs a digit, "@" or "*" (cheap; a 0.9 MB prompt has 150k words)
        value = match.group().strip(".-_+%")
        digits = sum(ch.isdigit() for ch in value)
        is_email = "@" in value and "." in value.split("@")[-1]
        is_masked_name = len(value) >= 2 and not value[0].isascii() and set(value[1:]) == {"*"}  # 张*
        is_masked = value[:1].isalnum() and "**" in value  # Z***, not markdown's **bold**
        if (digits >= 4 or is_email or is_masked_name or is_masked) and value not in found and value not in skip:
            found.append(value)
    return found[:MAX_DETAILS]


def cloud_notes(values: dict, chinese: bool) -> list[str]:
    notes = []
    for name in CLOUD_ONLY:
        value = values.get(name)
        if value is None or value is False or value == ["text"]:
            continue  # not asked for, or asked for what the sandbox does anyway
        param = P.BY_NAME[name]
        shown = shorten(param.to_text(value), 40)
        if chinese:
            notes.append(f"{param.wire}={shown} 需要云端服务，沙箱已接受并校验，但没有执行。")
        else:
            notes.append(f"{param.wire}={shown} needs the cloud service; the sandbox accepted and checked it "
                         "but did not run it.")
    return notes


def build(messages: list[dict], values: dict, *, masked_rule: str | None, prompt_tokens: int) -> Script:
    target = acknowledged_message(messages)
    text = target.get("content") or ""
    chinese = is_cjk_heavy(text)
    quote = instruction_clause(text)
    details = specific_values(text, skip=quote)
    notes = cloud_notes(values, chinese)
    n = len(messages)
    if chinese:
        masking = f"（已按 {masked_rule} 规则脱敏）" if masked_rule else ""
        reasoning_intro = f"用户发来 {n} 条消息，共 {prompt_tokens} 个词元{masking}。"
        detail_text = "、".join(details) + "。" if details else ""
        note_text = "".join(notes)
    else:
        masking = f" (masked with rule {masked_rule})" if masked_rule else ""
        reasoning_intro = f"The user sent {n} message{'s' if n != 1 else ''}, {prompt_tokens} tokens{masking}."
        detail_text = " " + ", ".join(details) + "." if details else ""
        note_text = "".join(" " + note for note in notes)
    label = LABEL_ZH if chinese else LABEL_EN
    prefix = suffix = ""
    if values.get("response_format") == "json_object":
        # Keys, label, copied values and punctuation are said with certainty, only the reply's
        # sentences are chosen (and they hold no quote or backslash), so the answer always parses.
        head = {"generator": label.strip(" 【】[]"), "request": quote, "details": details, "notes": notes}
        prefix = json.dumps(head, ensure_ascii=False)[:-1] + ', "reply": "'
        suffix = '"}'
    return Script(chinese=chinese, label=label,
                  ack_head=ACK_HEAD_ZH if chinese else ACK_HEAD_EN, quote=quote,
                  ack_tail=ACK_TAIL_ZH if chinese else ACK_TAIL_EN,
                  details_intro=DETAILS_ZH if chinese else DETAILS_EN, details=detail_text, notes=note_text,
                  body=BODY_ZH if chinese else BODY_EN, reasoning_intro=reasoning_intro,
                  reasoning=REASONING_ZH if chinese else REASONING_EN, json_prefix=prefix, json_suffix=suffix)
