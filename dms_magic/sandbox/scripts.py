"""What the sandbox's generator means to say: the texts it restates and continues with.

The generator (generator.py) samples token by token; this module only decides the *intended*
text: a header that restates what was received (so the effect of masking is visible), notes for
parameters that need the cloud, a pool of plausible continuation sentences, and the reasoning
text for thinking mode. English or Chinese, following the language of the restated message.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from .. import params as P
from .tokens import is_cjk_heavy

MAX_RESTATED_CHARS = 600  # a huge prompt is restated in part; the generator still consumed all of it

# Parameters the sandbox validates but cannot act on: the answer says so instead of dropping them.
CLOUD_ONLY = ("enable_search", "search_options", "enable_code_interpreter", "modalities_list", "audio_json",
              "vl_high_resolution_images", "xdash_scope_data_inspection")

# Continuation pools. First tokens are distinct so a sampled first token picks one sentence.
SENTENCES_EN = (
    " Here is a short reply based on what you wrote.",
    " The sandbox answers locally, so nothing left this machine.",
    " Masked values stay masked in this answer.",
    " Switch to a real DMS endpoint to get an answer from a Qwen model.",
    " Each token here was sampled from a small probability table.",
    " Try another seed or temperature to see the sampling change.",
    " Identical seeds and parameters give identical answers.",
    " Logprobs show how sure the generator was about each token.",
)
SENTENCES_ZH = (
    "这是根据你的内容生成的简短回复。",
    "沙箱在本地回答，数据没有离开这台机器。",
    "被脱敏的内容在回答中依旧保持脱敏。",
    "换成真实的 DMS 端点即可得到通义千问模型的回答。",
    "每个词元都来自一个小概率表的采样。",
    "试试别的种子或温度，可以看到采样的变化。",
    "相同的种子和参数会得到相同的回答。",
    "对数概率显示了生成器对每个词元的把握。",
)
# Alternatives the generator may sample instead of the intended token (JSON-safe: no quotes).
VOCAB_EN = (" the", " a", " and", " of", " to", " data", " model", " sandbox", " masked", " text", " request",
            " answer", ",", ".", " is", " it", " this", " that", " for", " with", " token", " seed")
VOCAB_ZH = ("的", "了", "是", "在", "数", "据", "模", "型", "沙", "箱", "脱", "敏", "，", "。", "我", "你", "这",
            "个", "请", "信", "词", "元")


@dataclass(frozen=True)
class Script:
    chinese: bool
    header: str  # restatement + notes, said with near certainty
    json_prefix: str  # JSON mode: forced text before the header, "" otherwise
    json_middle: str  # JSON mode: forced text between the header and the sentences
    json_suffix: str  # JSON mode: forced closing text
    sentences: tuple[str, ...]
    vocab: tuple[str, ...]
    reasoning: str


def restated_message(messages: list[dict]) -> dict:
    """The message the answer restates: the last user message (else the last one)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return message
    return messages[-1]


def cloud_notes(values: dict, chinese: bool) -> list[str]:
    notes = []
    for name in CLOUD_ONLY:
        value = values.get(name)
        if value is None or value is False or value == ["text"]:
            continue  # not asked for, or asked for what the sandbox does anyway
        param = P.BY_NAME[name]
        shown = P.shorten(param.to_text(value), 40)
        if chinese:
            notes.append(f"{param.wire}={shown} 需要云端服务，沙箱已接受并校验，但没有执行。")
        else:
            notes.append(f"{param.wire}={shown} needs the cloud service; the sandbox accepted and checked it "
                         "but did not run it.")
    return notes


def build(messages: list[dict], values: dict, *, masked_rule: str | None, prompt_tokens: int) -> Script:
    target = restated_message(messages)
    quoted = target.get("content", "")
    if len(quoted) > MAX_RESTATED_CHARS:
        quoted = quoted[:MAX_RESTATED_CHARS] + "…"
    chinese = is_cjk_heavy(quoted)
    n, role = len(messages), target.get("role", "user")
    notes = cloud_notes(values, chinese)
    json_mode = values.get("response_format") == "json_object"
    if chinese:
        masking = f"（已按 {masked_rule} 规则脱敏）" if masked_rule else ""
        received = f"收到 {n} 条消息，最后一条（{role}）{masking}是：“{quoted}”。"
        label = "【dms_magic 沙箱生成器，不是大模型】"
        reasoning = (f"用户发来 {n} 条消息，共 {prompt_tokens} 个词元{masking}。我是沙箱的生成器，"
                     "先复述收到的内容，再补上一两句本地的回复。")
    else:
        masking = f" (masked with rule {masked_rule})" if masked_rule else ""
        received = (f"You sent {n} message{'s' if n != 1 else ''}; the last {role} message{masking} reads: "
                    f"“{quoted}”.")
        label = "[dms_magic sandbox generator, not an LLM] "
        reasoning = (f"The user sent {n} message{'s' if n != 1 else ''}, {prompt_tokens} tokens{masking}. "
                     "I am the sandbox's generator, so I restate what I received and add a short local reply.")
    if json_mode:
        # Only the restated text is sampled inside a JSON string; keys and punctuation are forced,
        # so a finished answer always parses.
        prefix = '{"generator": ' + json.dumps(label.strip(" 【】[]"), ensure_ascii=False) + ', "received": "'
        header = json.dumps(quoted, ensure_ascii=False)[1:-1]
        middle = '", "notes": ' + json.dumps(notes, ensure_ascii=False) + ', "reply": "'
        suffix = '"}'
    else:
        prefix = middle = suffix = ""
        header = label + received + "".join((" " if not chinese else "") + note for note in notes)
    return Script(chinese=chinese, header=header, json_prefix=prefix, json_middle=middle, json_suffix=suffix,
                  sentences=SENTENCES_ZH if chinese else SENTENCES_EN, vocab=VOCAB_ZH if chinese else VOCAB_EN,
                  reasoning=reasoning)
