"""Person names written freely, every mention counted (issue 22, families 1 and 2).

Paragraphs written from the issue's description of the outside corpus (an LLM's person
descriptions: a patient's name, a doctor's name and contact data woven into prose, in Chinese
and in English), not from the recognizers: names at a sentence start, next to a role word,
repeated, shortened to the given name or the surname, transliterated with ·, in odd capitals.
Names come from Faker (zh_CN; en_US, en_GB, en_IN, es_MX, de_DE), so the lexicons shipped with the
package (SSA, census) are not the source of the test values. Distractor sentences hold words that
look like names and are not (May, Will, Grace period, Morgan Stanley, 高兴, 黄金, 王国, 中国·杭州).

    python benchmarks/bench_names.py            # the table
    python benchmarks/bench_names.py --misses   # + what leaked

Graded under rule UserInfo: ``recall`` = name mentions whose every letter lies inside a name
detection; ``leaked`` = mentions still verbatim in the masked text (a mention "Dana" counts once
per occurrence); ``precision`` = name detections overlapping a labelled mention; ``distractors``
= share of distractor phrases any detection touches.
"""
from __future__ import annotations

import random
import re
import sys

SEED = 22
COUNT = 600

ZH_TEMPLATES = [
    "{P}，{sex}，{age}岁，现居{city}。{P}的手机号码是{phone}。近期{P}因{sym}就诊，主治医师{D}为其开具了{drug}。",
    "{P}年收入为{n}万元，名下有一套房产。{P}近期出现{sym}症状，经{D}医生诊断为{dx}。",
    "患者{P}于{date}入院。{D}医生建议{P}多休息，{G}表示会配合治疗。",
    "{P}是一名{job}，今年{age}岁。{P}的主治医生是{D}，{D}认为病情稳定。",
    "经{D}医生诊断，{P}患有{dx}。{G}需要每月复查一次。",
    "{P}近期出现{sym}。{D}大夫为{P}安排了复查，联系电话{phone}。",
    "{T}医生建议{P}每天散步三十分钟。{P}同意了。",
    "{P}的身份证号为{idn}。{P}近期出现{sym}症状，由{D}负责随访。",
]
EN_TEMPLATES = [
    "{P} is a {age}-year-old {job} living in {city}. {F}'s phone number is {phone}. Recently, {F} has reported "
    "{sym}. {F} was referred by {pr} physician, Dr. {D}.",
    "{P} works as a {job}. {L} was seen by Dr. {D} last week, and {DL} prescribed {drug}.",
    "{PU} was admitted on {date}. {D} confirmed the diagnosis of {dx}.",
    "Patient: {PO}. Attending physician: Dr. {D}.",
    "{P}, a {age}-year-old {job}, visited the clinic in {city}. {F} said the {sym} started a month ago.",
    "Contact {P} at {phone}. {F} prefers calls after 5 pm; {pr} doctor, {D}, agrees.",
]
ZH_DISTRACTORS = ["今天很高兴见到大家。", "黄金价格上涨了百分之三。", "王国的历史很长。", "高度重视数据安全。", "方便的话请回电。",
                  "周末去公园散步。", "马上就到。", "金额为三千五百元。", "白天气温较高。", "石家庄的天气不错。", "许多人参加了会议。",
                  "钱包丢了。", "常常去图书馆。", "江南水乡风景优美。", "林业局发布通知。", "中国·杭州国际会议召开。",
                  "阿里巴巴·西溪园区开放参观。", "黄山风景区游客很多。", "朱红色的大门很显眼。", "孙子今年上小学。",
                  "张开双臂欢迎客人。", "于是大家都走了。", "叶子变黄了。", "宋朝的瓷器很精美。", "杨柳依依。"]
EN_DISTRACTORS = ["May is a good month for travel.", "Will you come tomorrow?", "Grace period ends on Monday.",
                  "Bill of lading attached.", "Morgan Stanley reported earnings.", "The Apple Watch is on sale.",
                  "We walked along the Santa Monica Pier.", "New York City is busy.", "The Jordan River is long.",
                  "Victoria Harbour at night.", "She moved to Austin, Texas.", "General Electric makes turbines.",
                  "Summer Sale starts now.", "Happy Birthday to you.", "The Rose Garden opens at nine.",
                  "Chase Bank called about the card.", "Amazon Prime Video.", "Lincoln Center hosts concerts.",
                  "Georgia Tech won.", "Hope Street is closed.", "June was rainy.", "Mark the date.",
                  "Grant Park is nearby.", "Faith and Hope are virtues."]
SYM = ["头痛", "失眠", "胸闷", "咳嗽", "乏力"]
EN_SYM = ["headaches", "insomnia", "chest pain", "a cough", "fatigue"]
TRANSLIT = ["安娜·卡列尼娜", "约翰·史密斯", "玛丽亚·加西亚", "彼得·伊万诺夫", "艾哈迈德·哈桑", "索菲亚·罗西"]


def _odd(name: str, rng: random.Random) -> str:
    return name.upper() if rng.random() < 0.5 else name.swapcase()


def generate(count: int = COUNT, seed: int = SEED) -> list[dict]:
    """Samples ``{text, names: [(start, end)], distractors: [(start, end)]}``."""
    from faker import Faker

    rng = random.Random(seed)
    zh = Faker("zh_CN")
    en = Faker(["en_US", "en_GB", "en_IN", "es_MX", "de_DE"])
    zh.seed_instance(seed)
    en.seed_instance(seed)
    out = []
    for i in range(count):
        if i % 2 == 0:
            p, d = zh.name(), zh.name()
            while d[0] == p[0]:
                d = zh.name()
            given = p[1:] if len(p) == 3 else p
            fields = {"P": p, "D": d, "G": given, "T": rng.choice(TRANSLIT), "sex": rng.choice("男女"),
                      "age": rng.randint(20, 80), "city": zh.city(), "phone": zh.phone_number(), "sym": rng.choice(SYM),
                      "drug": "降压药", "n": rng.randint(10, 90), "dx": "高血压", "date": zh.date(), "job": zh.job(),
                      "idn": zh.ssn()}
            template, filler = rng.choice(ZH_TEMPLATES), ZH_DISTRACTORS
            name_keys = ("P", "D", "G", "T")
        else:
            first, last = en.first_name(), en.last_name()
            dfirst, dlast = en.first_name(), en.last_name()
            p = f"{first} {last}"
            fields = {"P": p, "F": first, "L": last, "D": f"{dfirst} {dlast}", "DL": dlast, "PU": _odd(p, rng),
                      "PO": _odd(p, rng), "age": rng.randint(20, 80), "job": "teacher", "city": en.city(),
                      "phone": en.phone_number(), "sym": rng.choice(EN_SYM), "drug": "lisinopril", "dx": "hypertension",
                      "date": en.date(), "pr": rng.choice(("her", "his"))}
            template, filler = rng.choice(EN_TEMPLATES), EN_DISTRACTORS
            name_keys = ("P", "F", "L", "D", "DL", "PU", "PO")
        text, names, distractors = "", [], []
        if rng.random() < 0.5:
            dis = rng.choice(filler)
            distractors.append((0, len(dis)))
            text = dis + (" " if i % 2 else "")
        for piece in re.split(r"(\{[A-Za-z]+\})", template):
            if piece.startswith("{"):
                key = piece[1:-1]
                value = str(fields[key])
                if key in name_keys:
                    names.append((len(text), len(text) + len(value)))
                text += value
            else:
                text += piece
        if rng.random() < 0.5:
            dis = rng.choice(filler)
            text += " " if i % 2 else ""
            distractors.append((len(text), len(text) + len(dis)))
            text += dis
        out.append({"text": text, "names": names, "distractors": distractors, "lang": "zh" if i % 2 == 0 else "en"})
    return out


def evaluate(samples: list[dict], misses: bool = False) -> dict:
    from dms_magic.masking import mask

    stats = {lang: {"n": 0, "recalled": 0, "leaked": 0, "detections": 0, "true": 0, "dist": 0, "touched": 0}
             for lang in ("zh", "en")}
    for s in samples:
        text, st = s["text"], stats[s["lang"]]
        result = mask(text)
        spans = [(e.start, e.end) for e in result.entities if e.entity.endswith("NAME")]
        # a name counts as leaked when it is still in the masked text as a whole word (in the masked
        # text the other words around it are unchanged)
        for a, b in s["names"]:
            st["n"] += 1
            covered = all(any(x <= k < y for x, y in spans) for k in range(a, b) if text[k].isalnum())
            st["recalled"] += covered
            value = text[a:b]
            leaked = re.search(rf"(?<![A-Za-z]){re.escape(value)}(?![A-Za-z])", result.text) is not None
            st["leaked"] += leaked
            if misses and leaked:
                print(f"LEAK {s['lang']}: {value!r} in {result.text[:160]!r}")
        for x, y in spans:
            st["detections"] += 1
            st["true"] += any(x < b and a < y for a, b in s["names"])
        for a, b in s["distractors"]:
            st["dist"] += 1
            touched = any(e.start < b and a < e.end for e in result.entities)
            st["touched"] += touched
            if misses and touched:
                print(f"TOUCHED {s['lang']}: {text[a:b]!r} -> {result.text!r}")
        if misses:
            for x, y in spans:
                if not any(x < b and a < y for a, b in s["names"]):
                    print(f"FALSE {s['lang']}: {text[x:y]!r} in {text[:120]!r}")
    return stats


def run() -> list[dict]:
    """Per language: the share of name mentions leaked (issue 22: <= 5%), precision (>= 0.98) and
    the share of distractors touched (<= 1%)."""
    stats = evaluate(generate())
    rows = []
    for lang, st in stats.items():
        recall = round(st["recalled"] / st["n"], 4)
        rows.append({"case": f"names written freely ({lang}): leaked, every mention", "ratio": st["leaked"] / st["n"],
                     "target": 0.05, "n": st["n"], "recall": recall})
        rows.append({"case": f"names written freely ({lang}): precision", "ratio": st["true"] / max(1, st["detections"]),
                     "target": 0.98, "higher_is_better": True, "n": st["detections"]})
        rows.append({"case": f"names written freely ({lang}): distractors touched",
                     "ratio": st["touched"] / max(1, st["dist"]), "target": 0.01, "n": st["dist"]})
    return rows


if __name__ == "__main__":
    import os

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if "--misses" in sys.argv:
        evaluate(generate(), misses=True)
    for row in run():
        print(row)
