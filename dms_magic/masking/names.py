"""Person names: Chinese (surname list + context cues, checked by jieba) and English (cue + shape).

Finding names cheaply matters: surnames are common characters, so running jieba over every text
would cap throughput. Instead a regex finds *candidates* — a surname right after a cue (``我叫``,
``联系人：``, ``客户``) or right before one (``先生``, ``的手机``, ``说``) — and jieba segments only
a small window around each candidate to decide where the name ends and whether it is a word.
"""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Iterator

from dms_magic.masking.recognizers import Detection

CJK = "\u4e00-\u9fff"

# Words that introduce a person (before the name). Lenient on purpose: jieba vets each candidate.
BEFORE_CUES = (
    "我叫 我是 名叫 叫做 姓名 名字 本人 联系人 收件人 收货人 寄件人 发件人 收款人 付款人 申请人 持卡人 户主 "
    "法定代表人 法人代表 法人 负责人 经办人 投保人 被保险人 受益人 借款人 担保人 委托人 代理人 监护人 紧急联系人 "
    "患者 病人 客户 用户 员工 学生 同学 老师 乘客 租户 房东 业主 买家 卖家 司机 骑手 会员 签名 署名 "
    "亲爱的 尊敬的 致 感谢 联系 拨打 告诉 通知 转告 交给 找 请 由 和 与 及 跟 给 向 让 叫 问 见 是 为 被 把 对 "
    "先生 女士 配偶 父亲 母亲 丈夫 妻子 儿子 女儿 朋友 同事 领导 经理 主管 店长 医生 护士 律师 记者 "
    "审批人 审核人 操作人 登记人 报案人 举报人 当事人 嫌疑人 证人 职员 教师 作者 导师 队长 组长 "
    "、 ， ： : 「 “ 《 （ ("
).split()

# Words that follow a name. A title or a possessive + PII word is strong; verbs are checked by jieba.
AFTER_CUES = (
    "先生 女士 小姐 同学 老师 经理 总监 主任 医生 护士 律师 教授 同志 师傅 阿姨 叔叔 "
    "的 说 表示 称 和 与 及 、 ， , 。 ； ; ： : ） ) 」 ” 已 在 于 是 将 会 要 也 都 今天 昨天 明天 "
    "电话 手机 联系 身份证 证件 邮箱 住址 家住 住在 来自 出生 男 女 负责 提交 申请 办理 确认 签字 同意 "
    "收 寄 购买 预订 入住 就诊 投诉 反映 报名 登记 回复 发送 "
).split()

# Titles jieba sometimes glues onto a name (王经理): cut them off before judging the name.
TITLES = ("先生", "女士", "小姐", "同学", "老师", "经理", "总监", "主任", "医生", "护士", "律师", "教授",
          "同志", "师傅", "阿姨", "叔叔", "总", "姐", "哥", "工")


@lru_cache(maxsize=1)
def surnames() -> tuple[str, tuple[str, ...]]:
    """(single-character surnames as one string, compound surnames)."""
    text = resources.files("dms_magic.masking").joinpath("data/surnames.txt").read_text("utf-8")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    return lines[0], tuple(lines[1].split())


def _alt(words: list[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


@lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern, re.Pattern]:
    single, compound = surnames()
    surname = f"(?:{_alt(list(compound))}|[{single}])"
    before = re.compile(f"(?:{_alt(BEFORE_CUES)})[:：]?[ ]?(?P<name>{surname}[{CJK}]{{1,3}})")
    after = re.compile(f"(?P<name>{surname}[{CJK}]{{1,2}})(?={_alt(AFTER_CUES)}|$)")
    return before, after


@lru_cache(maxsize=1)
def _jieba():
    """jieba's tokenizer and its word -> part-of-speech table, loaded on first use (about 1 s)."""
    import logging

    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    tags = jieba.posseg.dt.word_tag_tab
    return jieba.dt, tags


def _name_at(text: str, pos: int, compound: tuple[str, ...]) -> int | None:
    """End offset of the Chinese name starting at ``pos`` or None, judged by jieba on a small window."""
    tokenizer, tags = _jieba()
    lo = max(0, pos - 4)
    window = text[lo:pos + 7]
    at = pos - lo
    offset = 0
    token = None
    for tok in tokenizer.cut(window, HMM=True):
        if offset == at:
            token = tok
            break
        if offset > at:
            return None  # the candidate starts inside a word (对方明确 -> 对方/明确): not a name
        offset += len(tok)
    if token is None:
        return None
    for title in TITLES:
        if token.endswith(title) and len(token) > len(title):
            token = token[:-len(title)]
            break
    surname_len = 2 if token[:2] in compound else 1
    if len(token) <= surname_len:
        # jieba split the name itself (张 / 伟说): fall back to the characters after the surname,
        # stopping before a function word.
        end = pos + surname_len
        while end < len(text) and end - pos < surname_len + 2 and "\u4e00" <= text[end] <= "\u9fff" \
                and text[end] not in "的说是在和与及已于将会要也都被把给向":
            end += 1
        return end if end - pos > surname_len else None
    if len(token) > surname_len + 2:
        return None
    tag = tags.get(token)
    if tag is not None and not tag.startswith("nr"):
        return None  # a dictionary word that is not a name (高度, 明确, 金额)
    return pos + len(token)


def find_chinese_names(text: str) -> Iterator[Detection]:
    """Chinese person names near a cue, each vetted by jieba on a window of a dozen characters."""
    before, after = _patterns()
    _, compound = surnames()
    seen: set[int] = set()
    for regex, how in ((before, "surname + cue before + jieba"), (after, "surname + cue after + jieba")):
        for m in regex.finditer(text):
            pos = m.start("name")
            if pos in seen:
                continue
            seen.add(pos)
            end = _name_at(text, pos, compound)
            if end is not None:
                yield Detection(pos, end, "CHINESE_NAME", 0.75, how, "cn_name")


# -- English names ------------------------------------------------------------------------------

_EN_CUES = (r"Mr\.?|Mrs\.?|Ms\.?|Miss|Mx\.?|Dr\.?|Prof\.?|Sir|Madam|Dear|Hi|Hello|Name\s*[:：]|name is|named|"
            r"I am|I'm|this is|contact|customer|client|patient|applicant|cardholder|passenger|tenant|"
            r"employee|user|signed|Regards,|Sincerely,|Thanks,|from|by|cc\s*[:：]?|attn\s*[:：]?|to|"
            r"姓名[:：]?|联系人[:：]?|客户|收件人[:：]?|先生|女士|我叫|我是")
_EN_NAME = r"[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?"
# Capitalised words that follow cues but are not names.
_EN_STOP = frozenset(
    "The This That These Those Our Your Their His Her My We You They It Please Thank Thanks Monday Tuesday "
    "Wednesday Thursday Friday Saturday Sunday January February March April May June July August September "
    "October November December Customer Support Team Service Sales Dear Sir Madam Regards Best China Beijing "
    "Shanghai Email Phone Address Order Account Card Bank Room Street Road Company Inc Ltd Mr Mrs Ms Dr".split())


@lru_cache(maxsize=1)
def _en_pattern() -> re.Pattern:
    return re.compile(rf"(?<![A-Za-z])(?:{_EN_CUES})[ \t]*(?P<name>{_EN_NAME}(?:[ ](?:[A-Z]\.[ ])?{_EN_NAME}){{0,2}})"
                      rf"(?![A-Za-z])")


def find_english_names(text: str) -> Iterator[Detection]:
    """English names after a cue (Mr., Dear, Name:, contact ...): one to three capitalised words."""
    for m in _en_pattern().finditer(text):
        words = m.group("name").split(" ")
        while words and words[-1] in _EN_STOP:
            words.pop()
        while words and words[0] in _EN_STOP:
            words.pop(0)
        if not words:
            continue
        start = m.start("name") + m.group("name").index(words[0])
        end = start + len(" ".join(words))
        cue = m.group(0)[:m.start("name") - m.start()].strip()
        title = cue.rstrip(".").lower() in ("mr", "mrs", "ms", "miss", "mx", "dr", "prof", "先生", "女士")
        if len(words) == 1 and not title:
            continue  # a lone capitalised word after "from"/"to" is too often a place or a product
        yield Detection(start, end, "ENGLISH_NAME", 0.7, "cue + capitalised words", "en_name")
