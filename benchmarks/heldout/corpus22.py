"""Held-out corpus, part 2: issue 22's miss families, written from the issue's text alone.

Like ``corpus.py`` (same sample shape, same ``values.py`` generators, Faker zh_CN/en_US, seeded),
its author has not read the engine. Person descriptions in the manner of an LLM-written profile
(zh and en), clinical notes, contact chats and notes full of look-alikes:

1. every mention: a name is labelled at each place it appears, including an English first or
   last name alone later (``context`` = ``first_mention``, ``repeat``, ``first_name``, ``last_name``);
2. names without a cue: at the start of a sentence, next to a role word (主治医师/医生/Dr./
   physician), transliterated with ``·``, English names in capitals or inverted capitals;
3. 18-character ID numbers with a plausible birth date that fail the check digit or carry an
   unknown region code, next to an ID cue (``form`` = ``bad_check``/``bad_region``); valid ones
   also without a cue;
4. phone numbers in national formats (no country code) next to a phone cue (``form`` =
   ``national_<region>``, ``dotted``);
5. English street addresses (entity ``ENGLISH_ADDRESS``, street part in ``street_start/_end``);
6. distractors: versions (4-part ones after "version"), 18-digit order numbers whose middle is no
   date, tracking numbers, amounts, dates, company and place names, common words that are also
   first names or surnames.

``generate()`` -> list of samples ``{id, style, text, labels, distractors}`` (see corpus.py);
unlike corpus.py a value may appear several times, each occurrence labelled.

    python benchmarks/heldout/corpus22.py --out corpus22.jsonl
"""
from __future__ import annotations

import json
import random
import sys

import phonenumbers
from faker import Faker

try:
    from . import values as V
    from .corpus import Builder, Distractor, Value
except ImportError:  # pragma: no cover - script use
    import values as V  # type: ignore[no-redef]
    from corpus import Builder, Distractor, Value  # type: ignore[no-redef]

SEED = 22
COUNT = 1500
STYLES = ("zh_profile", "en_profile", "zh_clinical", "en_clinical", "contact_chat", "lookalikes")

# Transliterated names as Chinese text writes them: given name · family name.
TRANSLIT_GIVEN = ("安娜", "玛丽亚", "伊万", "彼得", "亚历山大", "索菲亚", "约翰", "米哈伊尔", "娜塔莎", "叶莲娜",
                  "买买提", "阿依古丽", "艾力", "古丽娜尔", "热依拉", "托马斯", "卡特琳娜", "穆罕默德")
TRANSLIT_FAMILY = ("卡列尼娜", "彼得罗夫", "伊万诺娃", "史密斯", "约翰逊", "吐尔逊", "阿不都", "卡德尔", "库尔班",
                   "安德森", "沃尔科娃", "霍夫曼", "加西亚", "伊布拉欣")
NATIONAL_REGIONS = ("US", "US", "CA", "GB", "GB", "DE", "DE", "FR", "BR", "BR", "JP", "AU", "IN", "IT", "ES", "MX")
PHONE_CUES_EN = ("phone", "Phone:", "tel", "Tel.", "call", "Call me at", "contact", "Contact number:", "reach me at")
PHONE_CUES_ZH = ("电话", "联系电话", "联系方式：", "请拨打", "联系", "手机")
ID_CUES_ZH = ("身份证号为", "身份证号码：", "证件号", "身份证", "证件号码是")
ID_CUES_EN = ("ID card number", "ID number", "identification number", "ID card no.", "national ID number")
JOBS_EN = ("software engineer", "retired teacher", "nurse", "logistics manager", "accountant", "freelance designer")
JOBS_ZH = ("软件工程师", "退休教师", "护士", "物流经理", "会计", "自由设计师")
SYMPTOMS_ZH = ("头晕乏力", "持续咳嗽", "血压偏高", "失眠", "胃部不适", "关节疼痛")
SYMPTOMS_EN = ("frequent headaches", "a persistent cough", "high blood pressure", "trouble sleeping", "joint pain")
DRUGS_ZH = ("降压药", "抗生素", "助眠药物", "胃药", "止痛药")
DRUGS_EN = ("an ACE inhibitor", "a course of antibiotics", "melatonin", "ibuprofen", "physical therapy")
COMPANIES = ("阿里巴巴集团", "华为技术有限公司", "招商银行", "顺丰速运", "京东物流", "Northwind Traders",
             "Contoso Ltd.", "Acme Logistics", "Globex Corporation", "Initech")
PLACES = ("杭州", "成都", "深圳市", "西湖", "黄山", "Portland", "Chicago", "Lake Tahoe", "Denver", "Manchester")
# Common words that are also given names or surnames, in sentences where they are just words.
COMMON_EN = {"May": "May I reschedule the appointment?", "Will": "Will the results be ready by Friday?",
             "Grace": "Grace periods for premiums are 30 days.", "Bill": "Bill payment is due on the 5th.",
             "Mark": "Mark the form as urgent.", "Frank": "Frank feedback helps us improve.",
             "Summer": "Summer hours start next week.", "Hope": "Hope this helps.",
             "Sterling": "Sterling silver is not covered.", "Young": "Young patients recover faster."}
COMMON_ZH = {"周末": "周末门诊照常开放。", "马上": "马上安排复查。", "黄金": "黄金周期间暂停预约。",
             "白天": "白天请保持手机畅通。", "常规": "常规检查未见异常。", "高度": "高度怀疑为过敏反应。",
             "方便": "方便时请回电。", "林业": "林业局的体检报告已收到。"}
STREET_SUFFIXES = ("Street", "St", "Avenue", "Ave", "Road", "Rd", "Lane", "Drive", "Dr", "Court", "Ct", "Boulevard",
                   "Blvd", "Terrace", "Way", "Place")
DIRECTIONS = ("North", "South", "East", "West", "Northwest", "Northeast", "Southwest", "Southeast", "N", "SW")


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


class Generator22:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.zh = Faker("zh_CN")
        self.en = Faker("en_US")
        self.zh.seed_instance(seed)
        self.en.seed_instance(seed + 1)

    # --- values -----------------------------------------------------------------------------

    def zh_name(self) -> str:
        return self.zh.name()

    def translit_name(self) -> str:
        return f"{self.rng.choice(TRANSLIT_GIVEN)}·{self.rng.choice(TRANSLIT_FAMILY)}"

    def en_name(self) -> tuple[str, str]:
        while True:
            first, last = self.en.first_name(), self.en.last_name()
            if first not in COMMON_EN and last not in COMMON_EN and first != last:
                return first, last

    def caps(self, text: str) -> tuple[str, str]:
        """An English name as people mistype it: (text, form)."""
        r = self.rng.random()
        if r < 0.55:
            return text, "plain"
        if r < 0.75:
            return text.upper(), "upper"
        if r < 0.9:
            return text.swapcase(), "inverted"
        return text.lower(), "lower"

    def id_number(self, kind: str) -> str:
        rng = self.rng
        while True:
            valid = V.id_card(rng)
            if kind == "valid":
                return valid
            if kind == "bad_check":
                return valid[:17] + rng.choice([c for c in "0123456789X" if c != valid[17]])
            # an unknown region code (no GB/T 2260 province starts 00, 66-70, 72-80, 83-90, 93-99)
            first17 = f"{rng.choice(('00', '66', '77', '88', '96', '99'))}{rng.randint(0, 9999):04d}" + valid[6:17]
            return first17 + V.id_check_char(first17)

    def national_phone(self) -> tuple[str, str]:
        rng = self.rng
        while True:
            region = rng.choice(NATIONAL_REGIONS)
            kind = rng.choice((phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE))
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            national = str(example.national_number)
            keep = max(3, len(national) - 6)
            national = national[:keep] + "".join(rng.choice("0123456789") for _ in range(len(national) - keep))
            number = phonenumbers.parse("+" + str(example.country_code) + national)
            if not phonenumbers.is_valid_number(number) or "555" in national[:7]:
                continue
            text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
            if region in ("US", "CA") and rng.random() < 0.4:
                n = national
                sep = rng.choice((".", "-"))
                return f"{n[:3]}{sep}{n[3:6]}{sep}{n[6:]}", "dotted" if sep == "." else "dashed"
            return text, f"national_{region}"

    def en_address(self) -> Value:
        rng, en = self.rng, self.en
        r = rng.random()
        number = str(rng.choice((rng.randint(1, 99), rng.randint(100, 9999), rng.randint(10000, 29999))))
        if r < 0.3:
            street = f"{number} {rng.choice(DIRECTIONS)} {_ordinal(rng.randint(1, 160))} {rng.choice(STREET_SUFFIXES)}"
        else:
            street = f"{number} {en.last_name() if rng.random() < 0.5 else en.first_name()} {rng.choice(STREET_SUFFIXES)}"
        tail = ""
        roll = rng.random()
        if roll < 0.35:
            tail = f", {rng.choice(('Apt', 'Apt.', 'Suite', 'Unit', '#'))} {rng.randint(1, 40)}{rng.choice(('', 'A', 'B', 'C'))}, " \
                   f"{en.city()}, {en.state_abbr()} {en.zipcode()}"
        elif roll < 0.6:
            tail = f", {en.city()}, {en.state_abbr()} {en.zipcode()}"
        return Value(street + tail, "ENGLISH_ADDRESS", "with_city" if tail else "street", street=(0, len(street)))

    def email(self, lang: str) -> str:
        if lang == "zh" and self.rng.random() < 0.6:
            return f"{self.zh.user_name()}@{self.rng.choice(('163.com', 'qq.com', '126.com', 'aliyun.com'))}"
        return self.en.free_email()

    # --- distractors -----------------------------------------------------------------------

    def distractor(self, b: Builder, lang: str, kind: str | None = None) -> None:
        rng = self.rng
        kind = kind or rng.choice(("version", "order_no", "tracking_no", "amount", "date", "company", "place",
                                   "common_word", "common_word"))
        if kind == "version":
            parts = [rng.randint(1, 12), rng.randint(0, 20), rng.randint(0, 99), rng.randint(0, 255)]
            text = ".".join(map(str, parts if rng.random() < 0.7 else parts[:3]))
            cue = rng.choice(("版本", "客户端版本 ", "版本号：")) if lang == "zh" else rng.choice(("version ", "app version ", "Version: "))
            b.add(cue).distractor(Distractor(text, kind, ("", "")))
            b.add("。" if lang == "zh" else ". ")
        elif kind == "order_no":
            while True:  # 18 digits whose positions 7-14 are no date (month 13-99)
                text = f"{rng.randint(100000, 999999)}{rng.randint(1990, 2024)}{rng.randint(13, 99)}{rng.randint(10, 99)}{rng.randint(0, 9999):04d}"
                if not V.id_card_valid(text) and not V.luhn_valid(text):
                    break
            cue = rng.choice(("订单号", "订单编号：", "单号 ")) if lang == "zh" else rng.choice(("order number ", "Order #", "order no. "))
            b.add(cue).distractor(Distractor(text, kind, ("", "")))
            b.add("。" if lang == "zh" else ". ")
        elif kind == "tracking_no":
            text = rng.choice(("SF" + str(rng.randint(10**11, 10**12 - 1)), "1Z" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXY") for _ in range(16)),
                               "YT" + str(rng.randint(10**12, 10**13 - 1))))
            b.add(rng.choice(("快递单号", "运单号：")) if lang == "zh" else rng.choice(("tracking number ", "Tracking: ")))
            b.distractor(Distractor(text, kind, ("", ""))).add("。" if lang == "zh" else ". ")
        elif kind == "amount":
            amount = rng.randint(100, 999999)
            text = rng.choice((f"{amount:,}元", f"¥{amount:,}.00", f"{amount / 10000:.1f}万元")) if lang == "zh" \
                else rng.choice((f"${amount:,}.00", f"USD {amount:,}", f"${amount / 1000:.1f}k"))
            b.add("金额为" if lang == "zh" else "The amount is ").distractor(Distractor(text, kind, ("", "")))
            b.add("。" if lang == "zh" else ". ")
        elif kind == "date":
            y, m, d = rng.randint(2015, 2025), rng.randint(1, 12), rng.randint(1, 28)
            text = rng.choice((f"{y}年{m}月{d}日", f"{y}-{m:02d}-{d:02d}")) if lang == "zh" \
                else rng.choice((f"{['January', 'March', 'May', 'July', 'October', 'December'][m % 6]} {d}, {y}", f"{m:02d}/{d:02d}/{y}"))
            b.add("复诊日期：" if lang == "zh" else "Follow-up on ").distractor(Distractor(text, kind, ("", "")))
            b.add("。" if lang == "zh" else ". ")
        elif kind == "company":
            text = rng.choice(COMPANIES)
            b.add("就职于" if lang == "zh" else "Works at ").distractor(Distractor(text, kind, ("", "")))
            b.add("。" if lang == "zh" else ". ")
        elif kind == "place":
            text = rng.choice(PLACES)
            b.add("上个月去过" if lang == "zh" else "Travelled to ").distractor(Distractor(text, kind, ("", "")))
            b.add("。" if lang == "zh" else ". ")
        else:  # common_word: a sentence starting with a word that is also a name
            table = COMMON_ZH if lang == "zh" else COMMON_EN
            word = rng.choice(sorted(table))
            b.distractor(Distractor(word, "common_word", ("", ""))).add(table[word][len(word):])
            b.add("" if lang == "zh" else " ")

    # --- styles -----------------------------------------------------------------------------

    def style_zh_profile(self, b: Builder) -> None:
        rng = self.rng
        name = self.zh_name()
        doctor = self.translit_name() if rng.random() < 0.25 else self.zh_name()
        while doctor == name:
            doctor = self.zh_name()
        nv = lambda ctx: b.value(Value(name, "CHINESE_NAME", "plain"), ctx)
        nv("sentence_start" if rng.random() < 0.5 else "first_mention")
        b.add(rng.choice((f"，{rng.randint(22, 80)}岁，{rng.choice(JOBS_ZH)}。", f"年收入为{rng.randint(8, 90)}万元，现任{rng.choice(JOBS_ZH)}。")))
        if rng.random() < 0.8:
            nv("repeat")
            b.add("的" + rng.choice(ID_CUES_ZH))
            kind = rng.choice(("valid", "bad_check", "bad_check", "bad_region"))
            b.value(Value(self.id_number(kind), "ID_CARD", kind), "cue_zh").add("，")
        b.add(rng.choice(PHONE_CUES_ZH))
        b.value(Value(V.mobile(rng), "MOBILE_PHONE", "plain"), "cue_zh").add("，邮箱")
        b.value(Value(self.email("zh"), "EMAIL", "plain"), "cue_zh").add("，住址")
        a = V.address(rng, self.zh)
        b.value(Value(a.text, "CHINESE_ADDRESS", "plain", street=(a.street_start, a.street_end)), "cue_zh").add("。")
        if rng.random() < 0.5:
            self.distractor(b, "zh")
        nv("repeat")
        b.add(f"近期出现{rng.choice(SYMPTOMS_ZH)}，")
        form = "transliterated" if "·" in doctor else "plain"
        if rng.random() < 0.5:
            b.add(rng.choice(("主治医师", "主治医生", "接诊医生")))
            b.value(Value(doctor, "CHINESE_NAME", form), "role_before").add(f"为其开具了{rng.choice(DRUGS_ZH)}。")
        else:
            b.add("经").value(Value(doctor, "CHINESE_NAME", form), "role_after").add(f"医生诊断，建议服用{rng.choice(DRUGS_ZH)}。")
        if rng.random() < 0.6:
            b.value(Value(doctor, "CHINESE_NAME", form), "repeat").add("医生表示病情稳定。")
        self.distractor(b, "zh")

    def style_en_profile(self, b: Builder) -> None:
        rng = self.rng
        first, last = self.en_name()
        dfirst, dlast = self.en_name()
        full, form = self.caps(f"{first} {last}")
        his = rng.choice(("his", "her"))
        b.value(Value(full, "ENGLISH_NAME", form), "sentence_start")
        b.add(f" is a {rng.randint(22, 85)}-year-old {rng.choice(JOBS_EN)} who lives at ")
        b.value(self.en_address(), "cue_en").add(". ")
        if rng.random() < 0.5:
            self.distractor(b, "en")
        phone, pform = self.national_phone()
        b.value(Value(first, "ENGLISH_NAME", "plain"), "first_name")
        b.add(rng.choice((" can be reached by phone at ", "'s contact number is ", " asks that you call ", "'s tel: ",
                          " (mobile) ")))
        b.value(Value(phone, "PHONE_NUMBER", pform), "cue_en").add(" or by email at ")
        b.value(Value(self.en.free_email(), "EMAIL", "plain"), "cue_en").add(". ")
        if rng.random() < 0.8:
            kind = rng.choice(("valid", "bad_check", "bad_check", "bad_region"))
            b.add(f"{his.capitalize()} {rng.choice(ID_CUES_EN)}{rng.choice((' is ', ': ', ' '))}")
            b.value(Value(self.id_number(kind), "ID_CARD", kind), "cue_en").add(". ")
        b.add("Recently, ").value(Value(first, "ENGLISH_NAME", "plain"), "first_name")
        b.add(f" has had {rng.choice(SYMPTOMS_EN)}; {his} physician, Dr. ")
        b.value(Value(f"{dfirst} {dlast}", "ENGLISH_NAME", "plain"), "role_before")
        b.add(f", prescribed {rng.choice(DRUGS_EN)}. ")
        if rng.random() < 0.6:
            b.add(rng.choice(("Mr. ", "Ms. ", "Mx. "))).value(Value(last, "ENGLISH_NAME", "plain"), "last_name")
            b.add(" agreed to a follow-up. ")
        if rng.random() < 0.5:
            b.add("Dr. ").value(Value(dlast, "ENGLISH_NAME", "plain"), "last_name").add(" will review the results. ")
        self.distractor(b, "en")

    def style_zh_clinical(self, b: Builder) -> None:
        rng = self.rng
        patient, doctor = self.zh_name(), self.translit_name() if rng.random() < 0.3 else self.zh_name()
        while doctor == patient:
            doctor = self.zh_name()
        dform = "transliterated" if "·" in doctor else "plain"
        b.add(f"【门诊记录】{rng.choice(('', '患者'))}").value(Value(patient, "CHINESE_NAME", "plain"), "first_mention")
        b.add(f"因{rng.choice(SYMPTOMS_ZH)}就诊。")
        kind = rng.choice(("valid", "bad_check", "bad_region", "bad_check"))
        b.add(rng.choice(ID_CUES_ZH)).value(Value(self.id_number(kind), "ID_CARD", kind), "cue_zh").add("。")
        b.add(rng.choice(("主治医师", "值班医生"))).value(Value(doctor, "CHINESE_NAME", dform), "role_before").add("查体后")
        b.add("建议").value(Value(patient, "CHINESE_NAME", "plain"), "repeat").add(f"服用{rng.choice(DRUGS_ZH)}。")
        if rng.random() < 0.5:
            phone, pform = self.national_phone()
            b.add("境外家属" + rng.choice(("电话", "联系电话："))).value(Value(phone, "PHONE_NUMBER", pform), "cue_zh").add("。")
        self.distractor(b, "zh")
        self.distractor(b, "zh", "common_word")

    def style_en_clinical(self, b: Builder) -> None:
        rng = self.rng
        first, last = self.en_name()
        dfirst, dlast = self.en_name()
        full, form = self.caps(f"{first} {last}")
        b.add("Visit note. ").value(Value(full, "ENGLISH_NAME", form), "sentence_start")
        b.add(f" presented with {rng.choice(SYMPTOMS_EN)}. ")
        b.add(rng.choice(("Attending physician ", "Seen by Dr. ", "Physician: Dr. ")))
        b.value(Value(f"{dfirst} {dlast}", "ENGLISH_NAME", "plain"), "role_before").add(". ")
        b.value(Value(first, "ENGLISH_NAME", "plain"), "first_name").add(" was advised to rest. ")
        if rng.random() < 0.7:
            kind = rng.choice(("valid", "bad_check", "bad_region"))
            b.add(f"Patient {rng.choice(ID_CUES_EN)}: ").value(Value(self.id_number(kind), "ID_CARD", kind), "cue_en").add(". ")
        phone, pform = self.national_phone()
        b.add(rng.choice(("Call ", "Contact: ", "Tel "))).value(Value(phone, "PHONE_NUMBER", pform), "cue_en").add(". ")
        self.distractor(b, "en")
        self.distractor(b, "en", "common_word")

    def style_contact_chat(self, b: Builder) -> None:
        rng = self.rng
        for _ in range(rng.randint(2, 3)):
            lang = rng.choice(("zh", "en"))
            b.add(rng.choice(("user: ", "客户: ", "me: ")))
            r = rng.random()
            if r < 0.45:
                phone, pform = self.national_phone()
                cue = rng.choice(PHONE_CUES_ZH if lang == "zh" else PHONE_CUES_EN)
                b.add(cue + ("" if lang == "zh" else " ")).value(Value(phone, "PHONE_NUMBER", pform), f"cue_{lang}")
            elif r < 0.7:
                kind = rng.choice(("valid", "valid", "bad_check", "bad_region"))
                if kind == "valid" and rng.random() < 0.5:
                    b.add("这个号码 " if lang == "zh" else "the number ")
                    b.value(Value(self.id_number(kind), "ID_CARD", kind), "no_cue")
                else:
                    b.add(rng.choice(ID_CUES_ZH) if lang == "zh" else "my " + rng.choice(ID_CUES_EN) + " is ")
                    b.value(Value(self.id_number(kind), "ID_CARD", kind), f"cue_{lang}")
            elif r < 0.85:
                b.add("ship it to " if rng.random() < 0.5 else "new address: ").value(self.en_address(), "cue_en")
            else:
                self.distractor(b, lang)
            b.add("\n")
        self.distractor(b, rng.choice(("zh", "en")))

    def style_lookalikes(self, b: Builder) -> None:
        rng = self.rng
        lang = rng.choice(("zh", "en"))
        for _ in range(rng.randint(3, 5)):
            self.distractor(b, lang)
        if rng.random() < 0.4:  # one real value among the look-alikes
            phone, pform = self.national_phone()
            b.add("电话" if lang == "zh" else "phone ").value(Value(phone, "PHONE_NUMBER", pform), f"cue_{lang}")

    def sample(self, index: int, style: str) -> dict:
        b = Builder()
        getattr(self, "style_" + style)(b)
        text = b.text.rstrip()
        return {"id": index, "style": style, "text": text, "labels": b.labels, "distractors": b.distractors}


def generate(count: int = COUNT, seed: int = SEED) -> list[dict]:
    """``count`` labelled samples, the styles in turn; the same list for the same seed."""
    gen = Generator22(seed)
    return [gen.sample(i, STYLES[i % len(STYLES)]) for i in range(count)]


def main(argv: list[str]) -> int:
    out = argv[argv.index("--out") + 1] if "--out" in argv else None
    lines = "\n".join(json.dumps(s, ensure_ascii=False) for s in generate()) + "\n"
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write(lines)
    else:
        sys.stdout.write(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
