"""Person names: Chinese (surname list + context cues, checked by jieba) and English (cue + shape).

Finding names cheaply matters: surnames are common characters, so running jieba over every text
would cap throughput. Instead a regex finds *candidates* — a surname right after a cue (``我叫``,
``联系人：``, ``客户``) or right before one (``先生``, ``的手机``, ``说``) — and jieba segments only
a small window around each candidate to decide where the name ends and whether it is a word.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from importlib import resources
from typing import Callable, Iterator

from dms_magic.masking import fields
from dms_magic.masking.recognizers import Detection
from dms_magic.masking.wordtrie import trie_pattern

CJK = "\u4e00-\u9fff"

# Words that introduce a person (before the name). Lenient on purpose: jieba vets each candidate.
BEFORE_CUES = (
    "我叫 我是 名叫 叫做 姓名 名字 本人 联系人 收件人 收货人 寄件人 发件人 收款人 付款人 申请人 持卡人 户主 "
    "法定代表人 法人代表 法人 负责人 经办人 投保人 被保险人 受益人 借款人 担保人 委托人 代理人 监护人 紧急联系人 "
    "患者 病人 客户 用户 员工 学生 同学 老师 乘客 租户 房东 业主 买家 卖家 司机 骑手 会员 签名 署名 "
    "亲爱的 尊敬的 致 感谢 联系 拨打 告诉 通知 转告 交给 找 请 由 和 与 及 跟 给 向 让 叫 问 见 是 为 被 把 对 "
    "先生 女士 配偶 父亲 母亲 丈夫 妻子 儿子 女儿 朋友 同事 领导 经理 主管 店长 医生 护士 律师 记者 "
    "审批人 审核人 操作人 登记人 报案人 举报人 当事人 嫌疑人 证人 职员 教师 作者 导师 队长 组长 "
    "医师 主治医师 主任医师 副主任医师 住院医师 主治医生 主刀医生 接诊医生 大夫 护士长 护士 院长 科长 主任 教授 "
    "法官 警官 民警 会计 顾问 助理 秘书 专员 客服 工程师 设计师 分析师 咨询师 心理咨询师 营养师 药师 康复师 治疗师 "
    "辅导员 班主任 校长 校友 室友 邻居 房客 病友 家属 联络人 介绍人 推荐人 主讲人 讲师 "
    "、 ， ： : 「 “ 《 （ ( @ 抄送 值班 主持人 项目经理 提交人 报告人 发起人 处理人 对接人 联系人为 户名 "
    "name Name NAME customer Customer contact Contact owner Owner assignee Assignee reporter Reporter "
    "applicant Applicant client Client patient Patient Mr. Mrs. Ms. Dr. Dear dear Hi Hello to by from with ask "
    "cc Cc CC Thanks thanks"
).split() + ["谢谢\n", "此致\n", "敬礼\n", "Regards,\n", "regards,\n", "Thanks,\n", "Sincerely,\n"]

# Cues that name the slot a name fills (我叫, 姓名, 收件人): what follows is a name even after a
# word-like surname (我叫包拯), unlike a role (医生查体).
NAMING_CUES = frozenset("我叫 名叫 叫做 姓名 名字 本人 签名 署名 户名 联系人为".split()) | \
    frozenset(c for c in BEFORE_CUES if len(c) > 1 and c.endswith("人"))  # 收件人, 法定代表人, 担保人

# Verbs that take a person and then what the person is to do (建议高岚服用…, 要求李明立即整改,
# 邀请张伟参加): a candidate after them counts only when a verb or an adverb follows it.
PIVOT_CUES = tuple("建议 要求 提醒 嘱咐 叮嘱 督促 邀请 委托 鼓励 安排 指派 派遣 陪同 协助 帮助 劝".split())
BEFORE_CUES += PIVOT_CUES
_VERB_TAGS = ("v", "d")  # jieba's v, vn, vd, vi, vg; d: an adverb before the verb (立即, 按时)

# Words that follow a name. A title or a possessive + PII word is strong; verbs are checked by jieba.
AFTER_CUES = (
    "先生 女士 小姐 同学 老师 经理 总监 主任 医生 护士 律师 教授 同志 师傅 阿姨 叔叔 "
    "的 说 表示 称 和 与 及 、 ， , 。 ； ; ： : ） ) （ ( 」 ” 已 在 于 是 将 会 要 也 都 今天 昨天 明天 "
    "电话 手机 联系 身份证 证件 邮箱 住址 家住 住在 来自 出生 男 女 负责 提交 申请 办理 确认 签字 同意 "
    "收 寄 购买 预订 入住 就诊 投诉 反映 报名 登记 回复 发送 反馈 医师 大夫 院长 工程师 ，男 ，女 ,男 ,女 "
).split()

# Cues that often precede or follow other things than names: enough for a clear surname, not for a
# surname character that is also a common word (于, 和, 高, 方, 金 ...).
WEAK_BEFORE = frozenset("请 由 和 与 及 跟 给 向 让 叫 问 见 是 为 被 把 对 找 致 、 ， ： : 「 “ 《 （ ( 联系 告诉 通知 转告 交给 拨打 "
                        "Hi Hello to by from with ask cc Cc CC Thanks thanks".split()) | frozenset(PIVOT_CUES)
# After a name only titles and personal-data words are strong; verbs (提交, 负责) follow anything.
STRONG_AFTER = frozenset("先生 女士 小姐 同学 老师 经理 总监 主任 医生 护士 律师 教授 同志 师傅 阿姨 叔叔 医师 大夫 院长 工程师 ，男 ，女 ,男 ,女 "
                         "电话 手机 身份证 证件 邮箱 住址 家住 住在 出生 男 女".split())
WEAK_AFTER = frozenset(AFTER_CUES) - STRONG_AFTER
AMBIGUOUS_SURNAMES = frozenset("于和与向时单钱高明方石白金万文平全成常关易任尚应海花国信元那都但由车路云江房左甘连乐谈区"
                               "原支计门初来相能双从师东西南北上下大小公")
# Last characters that make a word a role or a thing, not a given name (申请人, 工作者, 对方).
ROLE_ENDINGS = frozenset("人员者们方家号期时处部市省县区卡费款单证码色")
# A token this frequent in jieba's dictionary is an ordinary word (高度, 明确, 方面), not a name;
# after a weak cue a low bar applies (jieba tags 谢谢, 祝福, 明白 and 阳光 as names). After a strong cue a
# dictionary word tagged as something else (满意度 after 客户) needs to be rare to pass.
COMMON_WORD_FREQ = 5000
COMMON_WORD_FREQ_WEAK_CUE = 150
TAGGED_WORD_FREQ = 100


# Titles jieba sometimes glues onto a name (王经理): cut them off before judging the name.
TITLES = ("先生", "女士", "小姐", "同学", "老师", "经理", "总监", "主任", "医生", "医师", "大夫", "护士", "律师", "教授",
          "同志", "师傅", "阿姨", "叔叔", "总", "姐", "哥", "工")


@lru_cache(maxsize=1)
def surnames() -> tuple[str, tuple[str, ...]]:
    """(single-character surnames as one string, compound surnames)."""
    text = resources.files("dms_magic.masking").joinpath("data/surnames.txt").read_text("utf-8")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    return lines[0], tuple(lines[1].split())


@lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern, re.Pattern]:
    single, compound = surnames()
    surname = f"(?:{trie_pattern(compound)}|[{single}])"
    # Zero-width (lookahead) matches so that candidates may overlap: in 李晓梅和陈默 the rejected
    # 和陈默 (和 is a surname too) must not hide 陈默.
    before = re.compile(f"(?=(?P<cue>{trie_pattern(BEFORE_CUES)})(?:为|是|[ ]is)?[ ]?[:：=]?[ ]?[（(“「\\[]?(?P<name>{surname}[{CJK}]{{1,3}}))")
    after = re.compile(f"(?=(?P<name>{surname}[{CJK}]{{1,2}})(?=[ ]?(?P<cue>{trie_pattern(AFTER_CUES)})|[ ]*$))")
    return before, after


def _jieba():
    """jieba's tokenizer and its word -> part-of-speech table, on the compact dictionary of
    ``wordfreq`` (loaded on the first name candidate in ~0.05 s; jieba's own takes ~1 s)."""
    from dms_magic.masking.wordfreq import tokenizer_and_tags

    return tokenizer_and_tags()


# One-character cues that jieba's HMM glues onto the surname after them (由赖峰, 和邹建, 给江丽丽).
_CUE_CHARS = frozenset("由和与及跟给向让叫问见是为被把对找致请经据替帮陪同令派")
_FUNCTION_CHARS = frozenset("的说是在和与及已于将会要也都被把给向让从对到为就还又很再才")
# What follows a name and may be segmented together with the name's last character (梅因, 兰因).
_AFTER_NAME_CHARS = frozenset("因为在是说")


def _took_last_character(pair: str, tokenizer) -> bool:
    """``pair``, a given-name character then 因/为/在/是/说, is no word of its own (梅因 n is rare):
    jieba (its dictionary or its HMM: 兰因) took the given name's last character into a word."""
    return len(pair) == 2 and pair[0] in GIVEN_NAME_CHARS and pair[1] in _AFTER_NAME_CHARS and \
        tokenizer.FREQ.get(pair, 0) < TAGGED_WORD_FREQ


@lru_cache(maxsize=1)
def _place_names() -> frozenset[str]:
    from dms_magic.masking.addresses import _places

    provinces, short, cities = _places()
    return frozenset(short) | frozenset(cities)


def _starts_word(text: str, pos: int, titled: bool = False) -> bool:
    """True when jieba puts a word boundary at ``pos`` (对方明确: 方 is inside 对方, not a surname).
    ``titled``: a title follows the name (史洁医生), so a two-character word made of a one-character
    cue and the surname (经史) does not hide it."""
    if pos == 0 or not "\u4e00" <= text[pos - 1] <= "\u9fff":
        return True  # after punctuation, a space, a digit or a letter a word always starts
    tokenizer, _ = _jieba()
    lo = max(0, pos - 4)
    offset = lo
    for tok in tokenizer.cut(text[lo:pos + 3], HMM=True):
        if offset == pos:
            return True
        if offset > pos:
            return False
        if offset + len(tok) > pos and len(tok) > 1 and (not tokenizer.FREQ.get(tok) or titled and len(tok) == 2):
            # pos is inside a word jieba's HMM made up (由赖峰, 由马): no dictionary word hides it
            return pos - offset == 1 and text[offset] in _CUE_CHARS
        offset += len(tok)
    return offset == pos


def _name_at(text: str, pos: int, compound: tuple[str, ...], *, check_left: bool, strong: bool,
             titled: bool = False) -> int | None:
    """End offset of the Chinese name starting at ``pos`` or None, judged by jieba on a small window.

    jieba's part-of-speech tags are not trusted for given names (it tags 建国 and 桂兰 as places);
    it decides where the name ends, and word frequency tells ordinary words from names.
    """
    tokenizer, tags = _jieba()
    tokens = list(tokenizer.cut(text[pos:pos + 6], HMM=True))
    first = tokens[0]
    surname_len = 2 if text[pos:pos + 2] in compound else 1
    # jieba's HMM glues a following function character onto an unknown name (李秋云为其): cut it off
    while len(first) > surname_len + 1 and first[-1] in _FUNCTION_CHARS and not tokenizer.FREQ.get(first):
        first = first[:-1]
    for title in TITLES:
        if first.endswith(title) and len(first) > len(title):
            first = first[:-len(title)]
            break
    if not strong and text[pos:pos + surname_len] in AMBIGUOUS_SURNAMES:
        # 高/方/金 ... after a weak cue: only when jieba itself joins surname and given name into
        # one word it does not know (钱淑珍), never a dictionary word (高度, 方便, 金额).
        if len(first) <= surname_len or tokenizer.FREQ.get(first):
            return None
    if len(first) > surname_len + 2 and not tokenizer.FREQ.get(first) and \
            all(c in GIVEN_NAME_CHARS for c in first[surname_len:surname_len + 2]):
        first = first[:surname_len + 2]  # HMM glued the next word's character on (潘玉华查 / 体后)
    elif len(first) == surname_len + 1 and tokenizer.FREQ.get(first, 0) < TAGGED_WORD_FREQ and \
            _took_last_character(text[pos + len(first):pos + len(first) + 2], tokenizer):
        first = text[pos:pos + surname_len + 2]  # a dictionary word took the last character (徐雪 / 梅因)
    if len(first) > surname_len:
        if len(first) > surname_len + 2:
            return None  # jieba sees a longer word here (王者荣耀): not a name
        tag = tags.get(first)
        freq = tokenizer.FREQ.get(first) or 0
        if not strong and (tag and not tag.startswith("nr") or freq >= COMMON_WORD_FREQ_WEAK_CUE):
            return None  # after a weak cue, a dictionary word (申请 v, 查收 v, 周一 t) is that word
        if strong and tag and not tag.startswith("nr") and freq >= TAGGED_WORD_FREQ:
            return None
        name = first
    else:
        # jieba split the surname off (黄 / 红霞, 王 / 亮): take what follows as the given name.
        name = first[:surname_len]
        for tok in tokens[1:3]:
            if len(name) >= surname_len + 2 or not ("\u4e00" <= tok[0] <= "\u9fff"):
                break
            if tok in TITLES or tok in AFTER_CUES:
                break  # 雷 / 女士: the name ended, a title or cue follows
            titled_tok = next((t for t in TITLES if len(t) > 1 and tok.endswith(t) and len(tok) > len(t)), None)
            given_part = tok[:-len(titled_tok)] if titled_tok else ""
            if given_part and len(given_part) <= 2 and all(c in GIVEN_NAME_CHARS for c in given_part) \
                    and tokenizer.FREQ.get(tok, 0) < TAGGED_WORD_FREQ:
                name += given_part  # 余 / 杨医生: the title glued onto the given name (not 副总经理)
                break
            if len(tok) == 1 and tok not in _FUNCTION_CHARS:
                name += tok
            elif len(tok) == 2 and len(name) == surname_len and tokenizer.FREQ.get(tok, 0) < COMMON_WORD_FREQ:
                name += tok
            else:
                break
        if len(name) == surname_len:
            return None
    given = name[surname_len:]
    if any(c in _FUNCTION_CHARS for c in given):
        return None  # 车是, 王的: a function word is not part of a given name
    if (given[0] == name[0] and not strong) or name[-1] in ROLE_ENDINGS or tokenizer.FREQ.get(name, 0) >= COMMON_WORD_FREQ:
        return None  # 谢谢, 申请人, 高度
    if surname_len == 1 and not titled and _word_like(name[0]) and not _given_name_evidence(given) \
            and not _fills_field(text, pos, pos + len(name)) and not _acts_after(text, pos + len(name)):
        return None  # 查体, 曾任, 居留权, 包饺子: a verb or adverb and what it governs
    end = pos + len(name)
    if name in _place_names() or text[end:end + 1] in ("市", "省", "县", "区"):
        return None  # 石家庄, 张家口市: places that start with a surname character
    if check_left and not _starts_word(text, pos, titled):
        return None
    return end


# A surname character that is, on its own, a frequent verb, adverb, conjunction, preposition,
# pronoun or locative (查 v, 包 v, 曾 d, 居 v, 何 r, 后 f): after it comes what it governs as often
# as a given name. jieba's dictionary says which, and how often (freq >= WORD_LIKE_FREQ).
_WORD_LIKE_TAGS = frozenset("v vn d c p r f".split())
WORD_LIKE_FREQ = 1000


def _word_like(surname: str) -> bool:
    """Looked up per candidate: the character's dictionary group is loaded for its window anyway."""
    tokenizer, _ = _jieba()
    return tokenizer.word_tag(surname) in _WORD_LIKE_TAGS and tokenizer.word_freq(surname) >= WORD_LIKE_FREQ


def _given_name_evidence(given: str) -> bool:
    """A given name after a word-like surname: characters common in given names (志伟, 建军, 雨桐;
    not 体, 任, 留权), or one of them and no dictionary word of another kind (not 饺子 n)."""
    if all(c in GIVEN_NAME_CHARS for c in given):
        return True
    if not any(c in GIVEN_NAME_CHARS for c in given):
        return False
    tokenizer, _ = _jieba()
    tag = tokenizer.word_tag(given)
    return not (tag and not tag.startswith("nr") and tokenizer.word_freq(given) >= TAGGED_WORD_FREQ)


_FIELD_LEFT = frozenset(":：,，、|\t\n ")
_FIELD_RIGHT = frozenset(",，、。.;；:：|)）\t\n ")


def _fills_field(text: str, start: int, end: int) -> bool:
    """The candidate is a whole field or list item (寄件：何畅, / ship to: 曾雷 ): a label or separator
    before it and a separator or the end after it, nothing a verb could govern."""
    return (start == 0 or text[start - 1] in _FIELD_LEFT) and (end == len(text) or text[end] in _FIELD_RIGHT)


def _acts_after(text: str, end: int) -> bool:
    """A verb of speech or a verb of two or more characters follows (任兵说, 何畅表示)."""
    return text[end:end + 1] == "说" or _verb_follows(text, end)


def _verb_follows(text: str, end: int) -> bool:
    """The dictionary word right after ``end`` is a verb or an adverb (服用, 参加, 立即): the name
    before it is the one who acts."""
    tokenizer, tags = _jieba()
    word = next(iter(tokenizer.cut(text[end:end + 4], HMM=False)), "")
    return len(word) > 1 and (tokenizer.word_tag(word) or "").startswith(_VERB_TAGS)


# Labels (a key, a column header, the cell before) that say the value is a person's name; labels
# naming a thing (hostname, 公司名称, file name) do not, even though they contain "name"/"名".
NAME_LABELS = ("姓名", "名字", "客户", "联系人", "收件人", "收货人", "寄件人", "发件人", "申请人", "负责人", "经办人", "持卡人",
               "人员", "值班", "经理", "主管", "审批人", "审核人", "操作员", "对接人", "老师", "医生", "司机", "作者", "代表",
               "户名", "用户", "员工", "患者", "乘客", "租户", "业主", "法人", "代表人", "报告人", "提交人", "处理人", "签名",
               "name", "contact", "customer", "client", "owner", "assignee", "reporter", "applicant", "author",
               "cardholder", "holder", "passenger", "patient", "tenant", "employee", "person", "from", "sender",
               "recipient", "attn", "signed", "member", "staff", "user", "who")
NOT_NAME_LABELS = ("host", "file", "product", "company", "org", "app", "server", "device", "domain", "table",
                   "column", "field", "bank", "branch", "project", "model", "brand", "city", "street", "shop",
                   "store", "tag", "class", "type", "key", "id", "公司", "产品", "文件", "项目", "银行", "设备", "型号",
                   "品牌", "单位", "机构", "网点", "地址", "电话", "邮箱", "号", "码", "类型", "级别", "等级", "状态",
                   "类别", "角色", "权限", "部门", "群", "level", "status", "role", "group", "dept")


def is_name_label(found: list[str]) -> bool:
    return any(any(w in lab for w in NAME_LABELS) and not any(w in lab for w in NOT_NAME_LABELS)
               for lab in found)


@lru_cache(maxsize=1)
def _field_patterns() -> tuple[re.Pattern, re.Pattern]:
    single, compound = surnames()
    surname = f"(?:{trie_pattern(compound)}|[{single}])"
    # A short CJK run that fills a field: a table or CSV cell, a JSON string, the value of key: value.
    cell = re.compile(rf"(?:^|(?<=[|,\t:：=\"\[(（]))[ ]*(?P<name>{surname}[{CJK}]{{1,3}})(?=[ ]*(?:[|,\t\"<；;，。\])）]|$)|[ ])",
                      re.M)
    # A chat line's speaker: [09:01] 张伟 ... / [09:01] 张伟：...
    speaker = re.compile(rf"^\[[0-9: /\-]{{4,19}}\][ ]*(?P<name>{surname}[{CJK}]{{1,3}})(?=[ ]|[:：])", re.M)
    return cell, speaker


def _plausible_field_name(text: str, pos: int, end: int, compound: tuple[str, ...]) -> bool:
    """A whole field under a name label: a surname and one to three more characters, not a place, a
    role (申请人) or an everyday word (jieba's frequency)."""
    name = text[pos:end]
    tokenizer, tags = _jieba()
    if name[-1] in ROLE_ENDINGS or name in _place_names() or any(c in _FUNCTION_CHARS for c in name[1:]):
        return False
    freq = tokenizer.word_freq(name)
    tag = tokenizer.word_tag(name)
    return freq < COMMON_WORD_FREQ and not (tag and not tag.startswith("nr") and freq >= TAGGED_WORD_FREQ)


def _find_field_chinese_names(text: str, seen: set[int]) -> Iterator[Detection]:
    cell, speaker = _field_patterns()
    _, compound = surnames()
    for m in cell.finditer(text):
        pos, end = m.span("name")
        if pos in seen:
            continue
        # the value may continue after a space (name=张淑珍 成功): cut at the first non-CJK
        if is_name_label(fields.labels(text, pos, end)) and _plausible_field_name(text, pos, end, compound):
            seen.add(pos)
            yield Detection(pos, end, "CHINESE_NAME", 0.75, "surname + name label (key, column header)", "cn_name")
    for m in speaker.finditer(text):
        pos = m.start("name")
        if pos in seen:
            continue
        found = _name_at(text, pos, compound, check_left=False, strong=True)
        if found is not None:
            end = found
            seen.add(pos)
            yield Detection(pos, end, "CHINESE_NAME", 0.75, "surname + chat speaker position + jieba", "cn_name")


def find_chinese_names(text: str) -> Iterator[Detection]:
    """Chinese person names near a cue, each vetted by jieba on a window of a dozen characters."""
    before, after = _patterns()
    _, compound = surnames()
    seen: set[int] = set()  # candidates judged (once each)
    found: set[int] = set()  # names found; a field or speaker position may still rescue a judged one
    for regex, how in ((before, "surname + cue before + jieba"), (after, "surname + cue after + jieba")):
        for m in regex.finditer(text):
            pos = m.start("name")
            if pos in seen:
                continue
            seen.add(pos)
            cue = m.group("cue")
            strong = cue is not None and cue not in (WEAK_AFTER if regex is after else WEAK_BEFORE)
            # A weak cue may itself belong to the name (向雷女士: 向 is the surname), so check that
            # a word starts at the candidate unless a strong cue ends right before it.
            end = _name_at(text, pos, compound, check_left=regex is after or not strong, strong=strong,
                           titled=cue in (STRONG_AFTER if regex is after else NAMING_CUES))
            if end is not None and cue in PIVOT_CUES and regex is before and not _verb_follows(text, end):
                seen.discard(pos)  # no evidence either way: a cue after it may still judge it
                continue
            if end is not None:
                found.add(pos)
                yield Detection(pos, end, "CHINESE_NAME", 0.75, how, "cn_name")
    yield from _find_sentence_initial_chinese_names(text, seen, found)
    yield from _find_field_chinese_names(text, found)
    yield from find_transliterated_names(text)


# The start of the text, a line, a sentence or what follows a 【header】, then an optional opening
# quote or bracket, then a CJK character (whether it is a surname is a set lookup: no surname
# alternation to compile).
_SENTENCE_START = re.compile(f"(?:^|(?<=[。！？!?；;…】]))[ \\t\\u3000]*[“\"「（(]?(?=[{CJK}])", re.M)


def _find_sentence_initial_chinese_names(text: str, seen: set[int], found: set[int]) -> Iterator[Detection]:
    """A name opening a sentence with no cue at all (周明哲年收入为…): the position is the cue, judged
    as strictly as after a weak cue (a dictionary word there is that word: 高兴, 黄金, 王国)."""
    single, compound = surnames()
    for m in _SENTENCE_START.finditer(text):
        pos = m.end()
        if pos in found or pos in seen or not (text[pos] in single or text[pos:pos + 2] in compound):
            continue
        seen.add(pos)
        # two given-name characters after the surname (方淑兰年收入…) are as good as a cue: judged as
        # after a strong cue, where jieba's dictionary words (高兴, 黄金, 王国) still lose
        sl = 2 if text[pos:pos + 2] in compound else 1
        next_two = text[pos + sl:pos + sl + 2]
        if not any(c in GIVEN_NAME_CHARS for c in next_two):
            continue  # no given name can be here (_given_name_like below): spare jieba the window
        strong = all(c in GIVEN_NAME_CHARS for c in next_two)
        end = _name_at(text, pos, compound, check_left=False, strong=strong)
        # a dictionary word is that word here, whatever jieba tags it (雷雨 is tagged a name)
        if end is not None and _given_name_like(text[pos:end], compound) and \
                _jieba()[0].word_freq(text[pos:end]) < COMMON_WORD_FREQ_WEAK_CUE:
            found.add(pos)
            yield Detection(pos, end, "CHINESE_NAME", 0.7, "surname at a sentence start + jieba", "cn_name")


# Characters common in given names (a sample of the most frequent ones): at a sentence start, with
# no cue, at least one given-name character must be one of them (周明哲 yes, 周边区 no).
GIVEN_NAME_CHARS = frozenset(
    "伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华玉文辉建国志红梅林海波宇晨浩然欣怡子涵晓雯哲秋云"
    "思远婷颖琳琪雪燕慧佳嘉俊鹏飞宏亮斌峰鑫博凯宁坤瑞睿晨轩昊天一鸣诗雨萱梓梦佩蕾薇倩莉萍玲丹琴璐露珊"
    "淑珍凤翠春兴福荣庆德永利成胜金宝祥才发贵生龙锦卫彬伦豪泽洁润熙瑶彤悦怡然楠柏杨帆航鹤宸铭煜晟哲"
    "瀚逸恒毅坚晶莹洪源清河山川峻岩松竹菊荷蓉芸芝蕙馨香茜悦蓓嫣妍婉娴雅静秀瑜瑾璇琦珂玥琼环钰铃翔宇"
    "若彦臻宪远之光耀阳旭东升昌隆晖灿炜烨焕炎坤培垚城均志忠义仁礼智信孝廉勤俭"
    "少小大长永振国家民安邦定宗祖继承世学文武功业立新中华时雄伯仲叔季元春夏秋冬"
    "健帅欢妮威冰辰鸿岚畅兵雷月芬珠莲娥素茂友良君"
    "剑虹玮锋霆晋康维萌娇媛婕姝婵姗碧紫彩霓霏露霜雯霖霄斐菲芮苒芊蔚萱荃筠绮缨绚晴晏暄曦曼朗杉桐梓森棋楷榕樱歆毓沁沛泓浚涵淼渊溪潇澄灏炫烁熠琛琨瑛璞皓瞳祺禹穗竣笙纬绍羽翊翰舜芃茹莎菁蔓蕊衡诺谦贞赫迪遥郁钧铮锐隽雁韬韵颂飒骏魁鸥鹰麟黎鼎弘恩惠慕昆昕昭晗景智曜柔栋桦梁棠楚沐泉淳渝滨澜烽焰珑琴瑾璋璟砚秉芙芷苑莉莹菊葵蕙虎裕贤赞轶醇钊镭雍驰骁麒黛")


def _given_name_like(name: str, compound: tuple[str, ...]) -> bool:
    given = name[2:] if name[:2] in compound else name[1:]
    return any(c in GIVEN_NAME_CHARS for c in given)


# Characters of standard Chinese transliterations of foreign names (安娜·卡列尼娜, 约翰·史密斯).
TRANSLIT_CHARS = frozenset(
    "阿埃艾爱安昂奥澳巴拜班邦保鲍贝本比彼毕别宾滨波伯博布查达黛戴丹当道德登迪蒂丁东杜顿多厄恩尔法凡范菲费芬"
    "丰弗福富盖甘冈高戈格葛根贡古瓜圭哈海汉豪赫黑亨洪胡华怀惠霍基吉加佳贾杰捷金津卡凯坎康考柯科可克肯库夸"
    "奎昆拉莱来兰朗劳勒雷蕾里理莉利丽连廉林琳玲娜伦罗洛吕马玛迈麦曼芒毛梅门蒙孟米密敏明莫姆穆纳奈南楠内尼妮"
    "涅宁纽努诺欧帕潘庞佩彭皮珀普奇齐恰乔琴切钦丘屈让热若萨塞赛桑瑟森沙莎珊尚绍舍申什施史斯松宋苏索塔泰坦汤唐"
    "特滕提铁廷图托瓦万旺威韦维温翁沃乌伍武西希锡席夏肖谢辛欣休修雅亚扬耶伊易因英尤于宇约扎泽詹章珍朱卓兹佐"
    "娅娃莲蒂琪芙曼缇黛蕊莎列翰茨策采楚慈大度敦俄夫斐伏嘎哥根顾贵桂果亥罕杭好恒弘侯纪季嘉简京久居君喀开孔"
    "阔腊赖郎累楞黎良凌刘留柳龙隆娄卢鲁陆律茂美缪摩墨默木牧乃派培平泊蒲契秦邱仁荣茹瑞润撒山士舒素陶田通"
    "汪魏文仙许延杨叶依元祖买提力不都合江汗努热古丽得逊吐")
@lru_cache(maxsize=1)
def _translit_pattern() -> re.Pattern:
    chars = "".join(sorted(TRANSLIT_CHARS))
    # the first part may be one character (让·雷诺); the last needs two (阿里巴巴·西溪园区 stops at 西)
    return re.compile(f"(?<![{chars}·•・‧])[{chars}]{{1,6}}(?:[·•・‧][{chars}]{{2,8}})+")


_INTERPUNCTS = "·•・‧"


def find_transliterated_names(text: str) -> Iterator[Detection]:
    """Foreign names written in Chinese with an interpunct (安娜·卡列尼娜, 让·雷诺): every part made of
    transliteration characters, so 中国·杭州 and 阿里巴巴·西溪园区 are not names."""
    if not any(c in text for c in _INTERPUNCTS):
        return  # the pattern (a class of some 400 characters) is compiled only for text that needs it
    for m in _translit_pattern().finditer(text):
        if len(m.group(0)) >= 4:  # two parts of one character each is too little (阿·布)
            start, end = _whole_words(text, m.start(), m.end())
            yield Detection(start, end, "CHINESE_NAME", 0.75, "transliterated name with an interpunct", "cn_name")


def _whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """Move a transliterated name's ends out to the ends of the dictionary words they lie inside:
    the character table is a sample, so a part holding a character outside it would otherwise
    start late (山大·伊万诺夫 for 亚历山大·…: 历) or end early (约翰 for 约翰逊). jieba's dictionary
    alone decides (no HMM guesses), on the end part and four characters beyond it."""
    cjk = "\u4e00" <= text[start - 1:start] <= "\u9fff", "\u4e00" <= text[end:end + 1] <= "\u9fff"
    if not any(cjk):
        return start, end
    tokenizer, _ = _jieba()
    if cjk[0]:
        first_end = min((i for i in (text.find(c, start, end) for c in _INTERPUNCTS) if i >= 0), default=end)
        offset = max(0, start - 4)
        for tok in tokenizer.cut(text[offset:first_end], HMM=False):
            if offset < start < offset + len(tok):
                start = offset
                break
            offset += len(tok)
    if cjk[1]:
        offset = max(text.rfind(c, start, end) for c in _INTERPUNCTS) + 1
        for tok in tokenizer.cut(text[offset:end + 4], HMM=False):
            if offset < end < offset + len(tok):
                end = offset + len(tok)
                break
            offset += len(tok)
    return start, end


# -- English names ------------------------------------------------------------------------------

_EN_CUES = (r"Mr\.?|Mrs\.?|Ms\.?|Miss|Mx\.?|Dr\.?|Prof\.?|Sir|Madam|Dear|Hi|Hello|name is|named|"
            r"I am|I'm|this is|from|by|to|"
            r"(?i:full[ _]?name|name|contact|customer|client|patient|applicant|cardholder|passenger|tenant|employee|user|"
            r"owner|assignee|reporter|author|signed|attn|cc)(?:[ ]?[:：=])?|(?i:regards|sincerely|thanks|cheers),|"
            r"(?i:name)\?|"
            r"姓名[:：]?|联系人[:：]?|客户[:：]?|收件人[:：]?|提交人|报告人|申请人|负责人|先生|女士|我叫|我是|谢谢|此致")
# Latin letters with accents count as letters (Rubén, Hans-Jörg Heß, Łukasz): Latin-1 and Extended-A.
# Ranges, not lists, so the patterns compile fast; Extended-A (Ā-ſ) mixes cases and counts as both.
UP = "A-ZÀ-ÖØ-ÞĀ-ſ"
LOW = "a-zß-öø-ÿĀ-ſ"
LETTER = "A-Za-zÀ-ÖØ-öø-ſ"
_EN_NAME = rf"[{UP}][{LOW}]+(?:[{UP}][{LOW}]+)?(?:[-'’][{UP}]?[{LOW}]+)?"
# Capitalised words that follow cues but are not names.
_EN_STOP = frozenset(
    "Later Then Today Yesterday Tomorrow Finally Meanwhile However Also Recently Afterwards Eventually Suddenly "
    "Yes No Okay Ok Next Last First Now Soon Still Once Sometimes Perhaps Maybe Instead Otherwise Besides "
    "The This That These Those Our Your Their His Her My We You They It Please Thank Thanks Monday Tuesday "
    "Wednesday Thursday Friday Saturday Sunday January February March April May June July August September "
    "October November December Customer Support Team Service Sales Dear Sir Madam Regards Best China Beijing "
    "Shanghai Email Phone Address Order Account Card Bank Room Street Road Company Inc Ltd Mr Mrs Ms Dr "
    "In On At Of For With And But Or If As So To From By I'm I’m I'd I’d I'll I’ll I've I’ve Hi Hey Hello".split())


# Capitalised words that make a two-word "name" a thing (a product, a service, a place), for labels
# such as "name" that name things as often as people.
_EN_THING = frozenset(
    "Server Service Services Pipeline Watch Project System Systems Data App Application Team Group "
    "Center Centre Platform Cloud Connect Manager Database Cluster Node Pearl Street Road Avenue Company "
    "Corp Bank Store Shop Hotel University School College Hospital Airport Station Building Plaza Mall "
    "Office Department Dept Studio Lab Labs Engine Gateway Proxy Worker Job Task Queue Stream Report "
    "Dashboard Portal Console Api Sdk Tool Tools Pro Plus Mini Air Edition Version Model Phone Pad Book "
    "Card Account Order Invoice Product Products Design Test Demo Prod Staging Default Admin Global "
    "International Limited Holdings Technology Technologies Solutions Network Networks Security North "
    "South East Great Big York Kong San Los Las Angeles Vegas Diego Zealand Jersey Orleans Kingdom States "
    "Republic Island Islands Beach City County Valley Springs Heights Falls Harbor Windows Excel Word Teams "
    "Drive Docs Sheets Maps Pay Chrome Code Studio Cloud Music Video Games Mobile Web Online Digital Smart "
    "Open Source Free Premium Business Enterprise Express Prime Home Mail Meet Chat Wallet Python Java Linux "
    "Ubuntu Docker Kubernetes Spring Boot React Vue Django Flask Requests Redis Mysql Oracle Microsoft Google "
    "Apple Amazon Alibaba Tencent Huawei Jira Slack Zoom Github Gitlab Visual Passport No Number Credit Code Tax "
    "Full Name Vehicle Plate Cell Tel Fax Contact Owner Assignee Reporter Description Subject Ticket Id Union "
    "Reserve Minister Court Council Committee Ministry Agency Bureau Association Institute Foundation Federal "
    "National Central Police Army Government Board Commission Party Club Society Museum Library Church Chinese "
    "English American British Japanese Korean European Asian African Machine Learning Science "
    "Harbour Harbor Pier Garden Gardens Park Square Sale Sales River Lake Mountain Mount Tower Towers "
    "Palace Castle Avenue Ave Boulevard Blvd Place Terrace Circle Highway Parkway Canyon Creek Point "
    "Coast Festival Awards Award Prize Cup League Championship Trophy Tour Show Hotel Resort Inn "
    "Motel Restaurant Cafe Bar Grill Kitchen Bakery Market Supermarket Pharmacy Clinic Medical Health Care "
    "Insurance Capital Partners Group Fund Trust Realty Motors Airlines Airways Energy Electric Foods Brands "
    "Media News Times Post Journal Tribune Herald Gazette Weekly Daily Magazine Press Records Pictures Films "
    "Corporation Incorporated Incorporation Orchestra Band Choir Ensemble Quartet Research Consulting Reports Lines "
    "Investments Movers Agency Studios Analytics Software Logistics Traffic Dynamics Robotics Ventures Industries "
    "Reuters Bloomberg Xinhua Bbc Cnn Nbc Cbs Abc Afp Forbes Wikipedia Suite Apt Apartment Unit Flat".split())


_UNIT_WORDS = frozenset("Suite Apt Apartment Unit Flat".split())


def _thing(words: list[str]) -> bool:
    return any(w in _EN_THING or w in _EN_STOP for w in words) or words[0] in _PLACE_PREFIX or \
        any((a, b) in _EN_NOT_PERSON_PAIRS for a, b in zip(words, words[1:])) or _org_word(words[-1])


# How the last word of a business name ends (Northwind Traders, Acme Supplies, Contoso Solutions,
# Fabrikam Electronics, Tailspin Consultants); a census surname ending so (Rogers, Davies, Jennings)
# is still a surname.
_ORG_ENDINGS = ("ers", "ies", "ings", "ions", "ics", "als", "ants", "ists", "ware", "works")


def _org_word(word: str) -> bool:
    return len(word) > 5 and word.endswith(_ORG_ENDINGS) and not _surname_like(word)


@lru_cache(maxsize=1)
def _en_pattern() -> re.Pattern:
    return re.compile(rf"(?<![{LETTER}])(?:(?:{_EN_CUES})(?:为|是|[ ]is)?[ \t]*\n?[ \t]*)+(?P<name>{_EN_NAME}(?:[ ](?:[A-Z]\.?[ ])?{_EN_NAME}){{0,2}})"
                      rf"(?![{LETTER}])")


# A run of capitalised words (title case, ALL CAPS, or caps-lock inverted: mARCUS), single spaces
# between, a middle initial allowed. Each run is judged word by word in Python (_lexicon_names).
_W = rf"[{UP}][{LETTER}]*(?:[-'’](?![sS](?![{LETTER}]))[{LETTER}]+)*"  # O'Brien, Smith-Jones; not Dana's
_INV = rf"[{LOW}][{UP}]+(?:[-'’][{UP}]+)*"  # caps lock: mARCUS
_EN_RUN_PATTERN = (rf"(?<![{LETTER}0-9])(?:{_W}|{_INV})(?:[ ](?:[A-Z]\.|{_W}|{_INV}|(?:de|da|del|della|der|den|di|du|van|von|la|le|"
                     rf"bin|ibn|al|dos|das|do|ter|los|las)(?=[ ](?:[{UP}]|(?:la|le|der|den|los|las)[ ][{UP}]))))+(?![{LETTER}0-9])")


@lru_cache(maxsize=1)
def _en_run() -> re.Pattern:
    return re.compile(_EN_RUN_PATTERN)
# What follows a person at the start of a description: "Thandiwe Nguyen is a 34-year-old ...".
_EN_PERSON_AFTER = re.compile(r"(?:'s?|’s?)\b|[ ](?:is|was|has|had|works|worked|lives|lived|said|says|reported|"
                              r"presented|presents|complained|complains|denied|denies|"
                              r"recently|currently|visited|called|joined|received|\()\b|, (?:a|an|aged?|who|born)\b")
# What only follows a person: "Yachana Dowerg is a 75-year-old", "…'s phone number".
_EN_PERSON_STRONG = re.compile(r"(?:'s|’s)[ ](?:phone|mobile|cell|email|e-mail|address|date of birth|birthday|"
                               r"ID|passport|husband|wife|son|daughter|mother|father|doctor|physician)\b|"
                               r"(?:,| is| was)[ ]an?[ ]\d{1,3}-year-old\b|[ ]\((?:age[ ]?)?\d{1,3}\)|, aged?[ ]\d")
# Given names that make famous company or place names (Morgan Stanley, Santa Monica): not a person there.
_EN_NOT_PERSON_PAIRS = frozenset({("Morgan", "Stanley"), ("Goldman", "Sachs"), ("Wells", "Fargo"), ("Santa", "Monica"),
                                  ("Charles", "Schwab"), ("Calvin", "Klein"), ("Ralph", "Lauren"), ("Louis", "Vuitton"),
                                  ("Hugo", "Boss"), ("Tommy", "Hilfiger"), ("Jack", "Daniels"), ("Johnson", "Johnson"),
                                  ("Ernst", "Young"), ("Marshall", "Islands"), ("Florence", "Nightingale")})


# Lowercase words inside a name (de León, van der Berg, bin Salman).
PARTICLES = frozenset("de da del della der den di du van von la le los las bin ibn al dos das do ter".split())


def _shape(word: str) -> tuple[str, str]:
    """(shape, title-case key): title (Hale, McDonald, O'Brien), upper (HALE), inverted (hALE)."""
    if word[0].islower():
        return "inverted", word.swapcase()
    if len(word) > 1 and word.isupper():
        return "upper", word[0] + word[1:].lower()
    return "title", word


def _lex_key(word: str) -> str:
    """How the lexicons spell a word: McDonald -> Mcdonald, O'Brien -> Obrien, López -> Lopez."""
    plain = word.replace("'", "").replace("’", "")
    if not plain.isascii():
        plain = "".join(c for c in unicodedata.normalize("NFKD", plain) if not unicodedata.combining(c))
    return plain[:1].upper() + plain[1:].lower()


def _surname_like(key: str) -> bool:
    from dms_magic.masking.lexicon import surnames

    return _lex_key(key) in surnames() or all(_lex_key(p) in surnames() for p in key.split("-") if p)


# A role or relation right before a name ("his doctor, Tanveer Smith", "Patient: NACHIKET JENKINS").
_EN_ROLE_BEFORE = re.compile(r"(?i:doctor|physician|nurse|dentist|surgeon|therapist|pharmacist|lawyer|attorney|"
                             r"teacher|manager|colleague|friend|wife|husband|son|daughter|mother|father|brother|sister|"
                             r"partner|neighbou?r|patient|client|landlord|tenant|boss|caregiver|guardian|spouse)"
                             r"(?:[ ]?[,:：][ ]?|[ ])$")
# More of what follows or precedes a person, for two capitalised words neither list knows
# (Tomomi Nishiyama, Liisa Lepistö): "… will be talking", "…, the technical writer", "says …".
_EN_PERSON_AFTER_WIDE = re.compile(r"[ ](?:will|would|listed|talked|talks|shouted|wrote|writes|told|asked|gave|took|"
                                   r"went|became|began|joined|sang|sings|played|plays|moved|lives|lived|smiled|"
                                   r"laughed|replied|answered|explained|added|noted|founded|invented|directed)\b|"
                                   r", (?:the|a|an|our|my|his|her|who)\b|[ ]of[ ][A-Z]|"
                                   r"[ ]as[ ](?:a|an|the|my|our|his|her|their)[ ]")
_EN_PERSON_BEFORE = re.compile(r"(?:\b(?i:says|said|asked|told|tells|by|under|called|named|met|meet|thanks|thank|"
                               r"dear|hi|hello|married|hired|invited|interviewed|introducing|featuring|feat\.|"
                               r"starring|with)[ ]+|(?i:by|name|author|artist|director|written by|"
                               r"directed by|produced by)[ ]?:[ \t]*)$")
# Before a thing's name, not a person's: "a Lucid Dreams concert" is fine, "the Red Sea", "in Nova Scotia".
_EN_NOT_NAME_BEFORE = re.compile(r"\b(?i:the|in|at|on|near|into|across|of|from|via)[ ]+$")
# Before a place: "living in West Laura", "from San Patricio".
_EN_PLACE_BEFORE = re.compile(r"(?:\b(?:in|at|from|near|to|of|into|across)[ ])$")


_PLACE_PREFIX = frozenset("San Santa Santo Sao São Saint St. Ste. Fort Port Mount Mt. Lake Cape New North South East "
                          "West Los Las El La Le Upper Lower".split())


def _lexicon_pair(words: list[str], i: int, after: Callable[[int], str], before: str = "") -> int:
    """How many words from ``words[i]`` make a person's name (0 when they do not). ``after(j)``: the
    text after word ``j``; ``before``: the text before word ``i``."""
    from dms_magic.masking.lexicon import COMMON_WORD_NAMES, first_names

    shape, first = _shape(words[i])
    if first in _PLACE_PREFIX or len(first) < 2 or first.endswith(".") or (first in _EN_STOP or first in _EN_THING) and \
            first not in COMMON_WORD_NAMES:  # April, May: they take the known-surname route below
        return 0
    j = i + 1
    while j + 1 < len(words) and words[j].lower() in PARTICLES:
        j += 1  # Amruta de León, Ludwig van Beethoven
    initial = j < len(words) and j + 1 < len(words) and (len(words[j]) == 2 and words[j].endswith(".") or
                                                         len(words[j]) == 1 and words[j].isupper())
    if initial:
        j += 1  # a middle initial: Marcus J. Hale, Marcus J Hale
    elif j + 1 < len(words) and _shape(words[j])[0] == shape and _lex_key(_shape(words[j])[1]) in first_names() and \
            _shape(words[j + 1])[0] == shape and _surname_like(_shape(words[j + 1])[1]):
        j += 1  # a middle name: Mary Ann Smith
    if j >= len(words):
        return 0
    last_shape, last = _shape(words[j])
    if last_shape != shape or len(last) < 2 or last.endswith(".") or last in _EN_STOP or last in _EN_THING or \
            (first, last) in _EN_NOT_PERSON_PAIRS or last in COMMON_WORD_NAMES and not _surname_like(last):
        return 0
    known = all(_lex_key(p) in first_names() for p in first.split("-") if p)  # Hans-Jörg: Hans, Jörg
    strong = bool(_EN_PERSON_STRONG.match(after(j)))
    role = bool(_EN_ROLE_BEFORE.search(before))
    if shape == "inverted":  # mARCUS hALE: two words typed with caps lock are a name, not a heading
        ok = True
    elif first in COMMON_WORD_NAMES:  # May, Will, Grace: only before a known surname (Will Smith)
        ok = (_surname_like(last) and last not in COMMON_WORD_NAMES and not _EN_PLACE_BEFORE.search(before)
              or strong or role)
    elif shape == "upper":  # ALL CAPS runs are headings as often as names: a known given name and more
        ok = (known and (_surname_like(last) or _lex_key(last) in first_names() or role or
                         bool(_EN_PERSON_AFTER.match(after(j)))) or strong or role and _surname_like(last))
    elif known:
        ok = True
    elif initial and shape == "title" and last[1:].islower() and not _thing([first, last]):
        # an unknown given name, an initial, a surname: Szabina J. Kovacs is a person's shape; without
        # the dot (Vitamin B Complex, Plan B Ventures) one of the two names must be a known one
        ok = words[i + 1].endswith(".") or _surname_like(last)
    elif shape == "title":
        # an unknown given name: a person's context right after or before it (a known surname needs
        # less of it); or a strong one
        wide = bool(_EN_PERSON_AFTER.match(after(j)) or _EN_PERSON_AFTER_WIDE.match(after(j)) or
                    _EN_PERSON_BEFORE.search(before))
        ok = strong or role or _surname_like(last) and wide or wide and not _thing([first, last]) and \
            not _EN_NOT_NAME_BEFORE.search(before) and first[1:].islower() and last[1:].islower()
    else:  # an unknown given name: a known surname and a person's context right after, or a strong one
        ok = strong or role or _surname_like(last) and bool(_EN_PERSON_AFTER.match(after(j)))
    return j - i + 1 if ok else 0


_ANY_UPPER = re.compile(f"[{UP}]")


def _find_lexicon_english_names(text: str) -> Iterator[Detection]:
    """Given name (census list) + surname-like word anywhere, in title case, ALL CAPS or inverted caps."""
    for m in _en_run().finditer(text):
        run = m.group(0)
        words = run.split(" ")
        offsets, pos = [], m.start()
        for w in words:
            offsets.append(pos)
            pos += len(w) + 1

        def after(j: int) -> str:
            end = offsets[j] + len(words[j])
            return text[end:end + 40]

        i = 0
        while i < len(words) - 1:
            if i and words[i - 1] in _PLACE_PREFIX:  # San Felipe, Saint Louis, Lake Charles, Port Elizabeth
                i += 1
                continue
            n = _lexicon_pair(words, i, after, text[max(0, offsets[i] - 24):offsets[i]])
            if n >= 2:
                start, end = offsets[i], offsets[i + n - 1] + len(words[i + n - 1])
                yield Detection(start, end, "ENGLISH_NAME", 0.7, "given-name list + surname-like word", "en_name")
                i += n
            else:
                i += 1


@lru_cache(maxsize=1)
def _en_field_patterns() -> tuple[re.Pattern, re.Pattern]:
    full = rf"{_EN_NAME}(?:[ ](?:[A-Z]\.[ ])?{_EN_NAME}){{1,2}}"
    cell = re.compile(rf"(?:^|(?<=[|,\t:：=\"\[(（]))[ ]*(?P<name>{full})(?=[ ]*(?:[|,\t\"<；;，。\])）]|$)|[ ])", re.M)
    speaker = re.compile(rf"^\[[0-9: /\-]{{4,19}}\][ ]*(?P<name>{full})(?=[ ]*[:：]|[ ])", re.M)
    return cell, speaker


@lru_cache(maxsize=1)
def _en_context_pattern() -> re.Pattern:
    """Two or three capitalised words with a person's context: Chinese text around them (会议由 X 主持,
    请联系 X, X 提交了), or an English verb after them or a preposition or greeting before them."""
    full = rf"{_EN_NAME}(?:[ ](?:[A-Z]\.[ ])?{_EN_NAME}){{1,2}}"
    before = (rf"(?:(?<=[\u4e00-\u9fff：，、（“「])[ ]?|(?<![{LETTER}])(?i:with|thanks|thank you|ask|tell|email|call|"
              r"meet|met|ping|per|cc|spoke to|talked to|ask)[ ,]+)")
    after = (r"(?:(?=[ ]?[\u4e00-\u9fff，。、；）”」])|(?=[ ](?:said|says|called|asked|wrote|replied|reported|confirmed|"
             r"joined|emailed|signed|approved|submitted|mentioned|noted)\b))")
    return re.compile(rf"{before}(?P<name>{full})(?![{LETTER}])|(?<![{LETTER}])(?P<name2>{full}){after}")


def _find_context_english_names(text: str) -> Iterator[Detection]:
    for m in _en_context_pattern().finditer(text):
        group = "name" if m.group("name") else "name2"
        words = m.group(group).split(" ")
        if not _thing(words):
            yield Detection(m.start(group), m.end(group), "ENGLISH_NAME", 0.65,
                            "capitalised words + Chinese text or a verb around them", "en_name")


def _find_field_english_names(text: str) -> Iterator[Detection]:
    cell, speaker = _en_field_patterns()
    for m in cell.finditer(text):
        words = m.group("name").split(" ")
        if _thing(words):
            continue
        if is_name_label(fields.labels(text, m.start("name"), m.end("name"))):
            yield Detection(m.start("name"), m.end("name"), "ENGLISH_NAME", 0.7, "capitalised words + name label",
                            "en_name")
    for m in speaker.finditer(text):
        words = m.group("name").split(" ")
        if not _thing(words):
            yield Detection(m.start("name"), m.end("name"), "ENGLISH_NAME", 0.7, "capitalised words + chat speaker",
                            "en_name")


# Two lower-case words after a title (dr. ivy chen), or opening a text, line or sentence with a
# person's context after them (mia torres is ...): only those places are matched, so ordinary
# lower-case prose costs one scan and no Python per word pair.
_LOWER_PAIR = r"(?P<first>[a-z]{2,})[ ](?P<last>[a-z]{2,}(?:-[a-z]{2,})?)(?![A-Za-z0-9-]|\.[a-z]|['’][a-rt-z])"


@lru_cache(maxsize=1)
def _en_lower() -> tuple[re.Pattern, re.Pattern, re.Pattern]:
    """(after a title, after a sentence end or newline, at the start of the text). Each of the first
    two starts with a character class, which re scans for fast (a leading lookbehind or ``^`` would
    make it try every position)."""
    sentence = rf"[ \t]*{_LOWER_PAIR.replace('?P<', '?P<s_')}(?={_EN_PERSON_AFTER.pattern})"
    return (re.compile(rf"(?P<title>[MDPmdp](?<![A-Za-z][MDPmdp])(?:(?<=[Mm])(?:rs?|s|iss)|(?<=[Dd])r|(?<=[Pp])rof))"
                       rf"\.?[ ]{_LOWER_PAIR}"),
            re.compile(rf"[.!?:;\n]{sentence}"), re.compile(sentence))


def _find_lower_case_english_names(text: str) -> Iterator[Detection]:
    """Lower-case names, where a capital would be the only missing evidence: a census given name
    (not an everyday word: will, may, grace) and a census surname (or a second given name after a
    title), after a title or opening a sentence about a person."""
    titled_pairs, sentence_pairs, opening = _en_lower()
    found = [*titled_pairs.finditer(text), *sentence_pairs.finditer(text)]
    first_match = opening.match(text)
    for m in [first_match, *found] if first_match else found:
        titled = m.re is titled_pairs
        group = ("first", "last") if titled else ("s_first", "s_last")
        first, last = m.group(group[0]).title(), m.group(group[1]).title()
        from dms_magic.masking.lexicon import COMMON_WORD_NAMES, first_names

        if first in COMMON_WORD_NAMES or last in COMMON_WORD_NAMES or first in _EN_STOP or last in _EN_STOP \
                or first in _EN_THING or last in _EN_THING or first not in first_names():
            continue
        if not (_surname_like(last) or titled and last in first_names()):
            continue
        yield Detection(m.start(group[0]), m.end(group[1]), "ENGLISH_NAME", 0.6,
                        "given-name and surname lists, lower case, after a title or opening a sentence", "en_name")


# Who a greeting addresses when it is not a person: "Hello World!", "Hi All,".
_GREETED_NOT_NAMES = frozenset("World All Everyone Everybody There Folks Guys Friends Friend Colleagues Team Sir Madam "
                               "Mate Buddy Pal Again Hiring Manager Partner Partners Customer Customers".split())


def _thing_label_before(text: str, pos: int) -> bool:
    """The cue is the end of a label that names a thing (``Product Name:``, ``公司名称``)."""
    before = text[max(0, pos - 16):pos].lower()
    return any(before.rstrip(" _-").endswith(w) for w in NOT_NAME_LABELS if w.isascii())


# -- one-word English names ---------------------------------------------------------------------
# A given name alone (``said Felix to Linda``, ``Remember me, Nathan?``), the names of a list
# (``our founders: Kovacs, Becker and Ruiz``) and the speakers of a chat (``Ubul: What a day.``):
# single capitalised words, judged by the given-name list and their place in the sentence.
_ONE = rf"[{UP}][{LOW}]+(?:-[{UP}][{LOW}]+)?"
_ONE_END = rf"(?![{LETTER}0-9@_]|-[{LETTER}]|['’](?![sS](?![{LETTER}]))[{LETTER}]|\.[{LETTER}0-9])"
# Before a place, a thing or a title, not a person: "in Charlotte", "the Jensen novel", "on Mercer".
_SINGLE_NOT_AFTER = frozenset("in at near into across of on onto the a an this that these those its per via inside "
                              "outside toward towards within".split())
# A sentence-initial given name followed by an address to someone: "Kuba, can I speak to your boss?"
_VOCATIVE_AFTER = re.compile(r",[ ](?:can|could|would|will|please|I|you|we|do|did|are|is|have|thank|thanks|"
                             r"listen|look|come|wait|remember|tell|let|it's|I'm|what|where|when|why|how)\b")
# Line-start words with a colon that are labels or roles, never a chat's speaker.
_SPEAKER_LABELS = frozenset("Name Answer Question Note Notes User Bot Subject Date Time Website Re Fw Fwd Warning Error "
                            "Tip Example Summary Status Title Location Price Total Reason Source Update Edit Step Output "
                            "Input Result Comment Reply Agent Assistant System Human Speaker Host Guest Interviewer "
                            "Narrator Moderator Caller Operator Customer Client Patient Doctor Nurse Teacher Student "
                            "From To Cc Bcc Sent Mobile Fax Desk Office Home Work Personal Info Address Email Phone "
                            "Url Link Tags Category Type Author Editor Translator Director Producer Cast Genre Rating "
                            "Review Description Details Comments Response Request Action Task Goal Issue Problem "
                            "Solution Fix Cause Impact Severity Priority Version Build Release Platform Environment "
                            "Attention Caution Important Disclaimer Copyright Update Yes No Ok Okay Hint Keywords".split())


@lru_cache(maxsize=1)
def _single_patterns() -> tuple[re.Pattern, re.Pattern, re.Pattern]:
    # the left boundary checked after the first capital, so that re scans for the capital fast
    # (a leading lookbehind makes it try every position)
    left = rf"[{UP}](?<![{LETTER}0-9'’.@/_#-][{UP}])"
    one = rf"{left}{_ONE[len(UP) + 2:]}{_ONE_END}"
    item = rf"{_ONE}{_ONE_END}"
    lst = re.compile(rf"{left}{item[len(UP) + 2:]}(?:,[ ]{item})+,?[ ](?:and|&|or)[ ]{item}")
    speaker = re.compile(rf"^[ \t>?*-]*(?P<w>{_ONE}):(?:[ \t]+(?=\S)|(?=[\"“]))", re.M)
    return re.compile(one), lst, speaker


_SAID_WORDS = ("says ", "said ", "asked ", "replied ", "wrote ")
_ROLE_WORDS = ("kid ", "child ", "baby ", "son ", "daughter ", "boy ", "girl ", "cousin ", "uncle ", "aunt ", "niece ",
               "nephew ", "grand", "fianc", "friend ", "wife ", "husband ", "brother ", "sister ", "neighbo",
               "colleague ", "partner ")


@lru_cache(maxsize=1)
def _said_or_role_pattern() -> re.Pattern:
    """``… says Gerste.``, ``my kid Tadzio``, ``his niece Aiko``: one capitalised word (no run)."""
    return re.compile(rf"(?:\b(?:says|said|asked|replied|wrote)[ ](?P<w>{_ONE})(?=[.!?;,][ \n\"”]|[.!?]?$)|"
                      rf"\b(?i:my|his|her|our|their|your)[ ](?:kid|child|baby|son|daughter|boy|girl|cousin|uncle|"
                      rf"aunt|niece|nephew|grandson|granddaughter|grandmother|grandfather|grandma|grandpa|fianc[ée]e?|"
                      rf"boyfriend|girlfriend|wife|husband|brother|sister|friend|neighbou?r|colleague|partner)[ ]"
                      rf"(?P<w2>{_ONE})(?![ ][{UP}]){_ONE_END})")


def _plain_name_word(word: str) -> bool:
    """Not a word that is a place, a thing or an everyday word before it is a name."""
    from dms_magic.masking.lexicon import COMMON_WORD_NAMES

    return not (word in COMMON_WORD_NAMES or word in _EN_STOP or word in _EN_THING or word in _PLACE_PREFIX
                or word in _SPEAKER_LABELS)


COMMON_SURNAME_RANK = 1000


def _surname_rank(word: str) -> int:
    from dms_magic.masking.lexicon import surnames

    return surnames().get(_lex_key(word), 10**9)


def _known_given(word: str) -> bool:
    from dms_magic.masking.lexicon import first_names

    return _plain_name_word(word) and all(_lex_key(p) in first_names() for p in word.split("-"))


# What comes to or from a person rather than a place: "said to", "a message from", "Felix to".
_TO_PERSON_BEFORE = re.compile(rf"(?:\b(?i:said|says|say|talk|talked|talking|speak|spoke|speaking|wrote|write|written|"
                               r"sent|send|gave|give|given|told|reply|replied|belongs|married|introduced|listen|"
                               r"listened|letter|message|note|email|mail|text|call|thanks|gift|it|this|them|him|her)|"
                               rf"[{UP}][{LOW}]+)[ ]$")
_AT_PERSON_BEFORE = re.compile(r"\b(?i:shouted|yelled|screamed|looked|smiled|waved|laughed|stared|pointed|glanced|"
                               r"winked|nodded|grinned|frowned|barked|snapped)[ ]$")
_LINE_OPEN = frozenset(".!?\n\"“(:;")


def _find_single_english_names(text: str, speakers_only: bool = False) -> Iterator[Detection]:
    one, lst, speaker = _single_patterns()
    for m in lst.finditer(text) if ", " in text and not speakers_only else ():
        items = re.split(r",?[ ](?:and|&|or)[ ]|,[ ]", m.group(0))
        if len(items) < 3 or not all(_plain_name_word(w) for w in items):
            continue
        # a given name that is no frequent surname: "Jones, Mitchell and Williams" (surnames only)
        # is as often a firm as three people
        given = sum(_known_given(w) and _surname_rank(w) > COMMON_SURNAME_RANK for w in items)
        known = sum(_known_given(w) or _surname_like(w) for w in items)
        if given and 2 * known >= len(items):
            pos = m.start()
            for w in items:
                start = text.index(w, pos)
                pos = start + len(w)
                yield Detection(start, pos, "ENGLISH_NAME", 0.6, "a list of capitalised words, most of them names",
                                "en_name")
    speakers = [(m.start("w"), m.end("w"), m.group("w")) for m in speaker.finditer(text)] if ":" in text else []
    if speakers and any(_known_given(w) for _, _, w in speakers):
        def speaker_word(w: str) -> bool:  # in a chat, Destiny: and Will: are speakers too
            return not (w in _SPEAKER_LABELS or w in _EN_STOP or w in _EN_THING or w in _PLACE_PREFIX)

        chat = len({w for _, _, w in speakers if speaker_word(w)}) >= 2
        for start, end, w in speakers:
            if _known_given(w) or chat and speaker_word(w):
                yield Detection(start, end, "ENGLISH_NAME", 0.6, "a chat's speaker (given name, or beside one)",
                                "en_name")
    low = text.lower() if not speakers_only else ""
    said = any(w in low for w in _SAID_WORDS) or any(w in low for w in _ROLE_WORDS)
    for m in _said_or_role_pattern().finditer(text) if said else ():
        g = "w" if m.group("w") else "w2"
        word = m.group(g)
        if _plain_name_word(word) and word not in _GREETED_NOT_NAMES:
            yield Detection(m.start(g), m.end(g), "ENGLISH_NAME", 0.6,
                            "one capitalised word after says/said (sentence end) or a family role", "en_name")
    from dms_magic.masking.lexicon import first_names

    given_names = first_names()
    for m in one.finditer(text) if not speakers_only else ():
        word = m.group(0)
        if word.isascii() and "-" not in word and word not in given_names:
            continue  # most capitalised words: one set lookup
        if not _known_given(word) or "-" in word and any(_surname_like(p) for p in word.split("-")):
            continue  # Valentine-Murray is a double-barrelled surname (or a firm) before it is a given name
        start, end = m.start(), m.end()
        if re.match(rf"[ ](?:[A-Z]\.?[ ])?[{UP}]", text[end:end + 4]):
            continue  # a run of capitalised words: the pair finders judge it
        before = text[max(0, start - 24):start]
        prev = re.search(rf"([{LETTER}]+)[ ]$", before)
        if prev and prev.group(1)[0].isupper() and prev.group(1) not in _EN_STOP:
            continue  # after another capitalised word: part of a run (Morgan Stanley, Lake Marion, Hotel Ella)
        addressed = before.endswith(", ") and text[end:end + 1] in ("?", "!", ",") or \
            bool(prev and prev.group(1).lower() == "at" and _AT_PERSON_BEFORE.search(before[:prev.start()]))
        if addressed:
            pass  # Remember me, Kelly?  shouted at Scott
        elif prev and prev.group(1).lower() in _SINGLE_NOT_AFTER:
            continue
        if _surname_rank(word) <= COMMON_SURNAME_RANK and not _line_open_before(before) and not addressed:
            continue  # Williams, Coleman mid-sentence: as often the surname of a firm (Lopez, Santos and Coleman)
        if prev and prev.group(1).lower() in ("to", "from") and not _TO_PERSON_BEFORE.search(before[:prev.start()]):
            continue  # moved to Charlotte, a flight from Marion; but said it to Linda, a note from Felix
        if _line_open_before(before):
            after = text[end:end + 40]
            if not (_EN_PERSON_AFTER.match(after) or _VOCATIVE_AFTER.match(after)):
                continue
        yield Detection(start, end, "ENGLISH_NAME", 0.6, "a given name alone, in a person's place", "en_name")


def _line_open_before(before: str) -> bool:
    """Nothing but a sentence end, a line start or an opening quote before this point."""
    tail = before.rstrip(" \t>*-")
    return not tail or tail[-1] in _LINE_OPEN


# The first line of a contact block: two or three capitalised words alone on their line, an e-mail,
# a phone-length number or a house-numbered line within the next lines (a signature, a letterhead).
_BLOCK_NAME_LINE = re.compile(rf"^[ \t>?*-]*(?P<name>{_EN_NAME}(?:[ ](?:[A-Z]\.?[ ])?{_EN_NAME}){{1,2}})[ \t]*$", re.M)
_CONTACT_LINE = re.compile(r"@[A-Za-z0-9-]+\.|[0-9](?:[ ().-]?[0-9]){6}|^[ \t>?*-]*[0-9]{1,6}[A-Za-z]? [^\W\d_]|"
                           r"\b(?i:box) [0-9]|^[ \t>?*-]*[^\W\d_]{3,}(?: [^\W\d_.]+\.?){0,3} [0-9]{1,4}[A-Za-z]?\.?[ \t]*$",
                           re.M)
CONTACT_LINES = 7


def _find_contact_block_names(text: str) -> Iterator[Detection]:
    if "\n" not in text:
        return
    for m in _BLOCK_NAME_LINE.finditer(text):
        words = m.group("name").split(" ")
        if _thing(words) or any(w in _UNIT_WORDS or w in _SPEAKER_LABELS for w in words):
            continue
        if not any(_known_given(w) or _surname_like(w) or not w.isascii() for w in words if not w.endswith(".")):
            continue  # Quarterly Results: a heading; a name has a listed part or a letter beyond ASCII
        end = m.end()
        for _ in range(CONTACT_LINES):
            end = text.find("\n", end + 1)
            if end < 0:
                end = len(text)
                break
        if _CONTACT_LINE.search(text, m.end(), end):
            yield Detection(m.start("name"), m.end("name"), "ENGLISH_NAME", 0.6,
                            "capitalised words alone on a line opening a contact block", "en_name")


def find_english_names(text: str) -> Iterator[Detection]:
    """English names: a common given name followed by a capitalised surname (Michael Andrews), or
    one to three capitalised words after a cue (Mr., Dear, Name:, contact ...), or a given name and a
    surname typed in lower case after a title or opening a sentence about a person (mia torres is)."""
    yield from _find_lower_case_english_names(text)
    if not _ANY_UPPER.search(text):
        if "name" in text or ":" in text or "mr" in text or "ms" in text or "dr" in text:
            yield from _find_names_in_lower_case_text(text)
        return  # every other English name has a capital letter; spare compiling the patterns below
    yield from _find_lexicon_english_names(text)
    yield from _find_cued_english_names(text)
    yield from _find_field_english_names(text)
    yield from _find_context_english_names(text)
    yield from _find_single_english_names(text)
    yield from _find_contact_block_names(text)


# Words of a lower-case text that capitalising made look like part of a name (my name is …, mr. smith about …).
_LOWER_TEXT_STOP = frozenset("is am are was were be the a an to of and or about at in on for with from by it this that "
                             "please here there yes no me my you your his her our their we they he she i i'm "
                             "again now today soon thanks thank so but if as".split()) | \
    frozenset(w.lower() for w in _EN_STOP) | frozenset(w.lower() for w in _EN_THING)
_WORD_START = re.compile(rf"(?<![{LETTER}0-9'’])[{LOW}]")


def _find_names_in_lower_case_text(text: str) -> Iterator[Detection]:
    """A text typed all in lower case (``my name is lena andersson``, ``mika: who are you?``): the
    finders whose evidence is not the capital letter (a naming cue or a title before, a chat's
    speakers) read it with every word capitalised. Not the finders for names without a cue: in
    such a text every word would look like one."""
    titled = _WORD_START.sub(lambda m: m.group(0).upper(), text)
    if len(titled) != len(text):
        return
    for d in _find_cued_english_names(titled, strict=True):
        words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text[d.start:d.end])]
        while words and text[d.start + words[0][0]:d.start + words[0][1]] in _LOWER_TEXT_STOP:
            words.pop(0)
        while words and text[d.start + words[-1][0]:d.start + words[-1][1]] in _LOWER_TEXT_STOP:
            words.pop()
        if words and text[d.start + words[0][0] - 1] in " \t\n:：\"“":  # not glued on (ms.runup.cn)
            yield Detection(d.start + words[0][0], d.start + words[-1][1], d.entity, 0.6,
                            "naming cue or title + words, in a lower-case text", d.recognizer)
    for d in _find_single_english_names(titled, speakers_only=True):
        yield Detection(d.start, d.end, d.entity, 0.6, "a chat's speaker, in a lower-case text", d.recognizer)


def _find_cued_english_names(text: str, strict: bool = False) -> Iterator[Detection]:
    for m in _en_pattern().finditer(text):
        words = m.group("name").split(" ")
        while words and (words[-1] in _EN_STOP or len(words) > 1 and words[-1] in _UNIT_WORDS):
            words.pop()  # Mrs. Jennifer Alcaraz Suite 541 ...: the unit opens the address
        while words and words[0] in _EN_STOP:
            words.pop(0)
        if not words:
            continue
        start = m.start("name") + m.group("name").index(words[0])
        end = start + len(" ".join(words))
        cue = m.group(0)[:m.start("name") - m.start()].strip().rstrip(".").lower()
        title = cue.endswith(("mr", "mrs", "ms", "miss", "mx", "dr", "prof", "先生", "女士"))
        naming = cue.endswith(("name is", "named", "name", "name?", "name:", "name=", "name：", "i am", "i'm")) and \
            (not cue.endswith(("i am", "i'm")) or _known_given(words[0])) or \
            cue in ("hi", "hello", "dear") and text[end:end + 1] in (",", "!") and words[0] not in _GREETED_NOT_NAMES
        if strict and not (title or naming):
            continue
        if len(words) == 1 and not title and not (naming and _plain_name_word(words[0])):
            continue  # a lone capitalised word after "from"/"to" is too often a place or a product
        if not title and (_thing(words) or _thing_label_before(text, m.start())):
            continue  # Product Name: Apple Watch, hostname: Web Server
        yield Detection(start, end, "ENGLISH_NAME", 0.7, "cue + capitalised words", "en_name")
