"""A held-out, labelled corpus of mixed Chinese/English text for grading PII masking.

Written from issue 16's list of miss families and the engine's entity list only (its author has
not read the recognizers), with values from Faker (zh_CN, en_US) and the checksum-valid
generators in ``values.py``. ``generate()`` is deterministic for a seed and the installed Faker.

    from benchmarks.heldout.corpus import generate
    samples = generate()          # 3,200 samples, seed 16
    python benchmarks/heldout/corpus.py --out corpus.jsonl   # write it out to look at

A sample is a dict: ``id``, ``style`` (chat, form, csv, markdown, log, json, email, ticket, sms,
shipping), ``text``, ``labels`` and ``distractors``. A label is ``{start, end, entity, value,
context, form}`` with ``text[start:end] == value``: ``context`` is how the cue sits next to the
value (``en_glued`` = a Latin cue glued before it, ``zh_colon`` = a Chinese label and an ASCII
colon with no space, ``table_header`` = the cue is the column's header cell, ...), ``form`` how the
value is written (``spaced``, ``+86``, ``mismatched`` landline, ``luhn`` ID card, ...). Addresses
also carry ``street_start``/``street_end``: the road and house number, the part the issue grades.
A distractor is ``{start, end, kind, value}``: text that looks like a value but is not personal
data (order and tracking numbers, versions, timestamps, hashes, digit strings failing a checksum,
...) and must stay untouched. Prefixes such as ``+86 `` and suffixes such as a port or an
extension are written outside the labelled span.
"""
from __future__ import annotations

import json
import random
import sys
import uuid
from dataclasses import dataclass, field

import phonenumbers
from faker import Faker

try:  # as a package module (benchmarks.heldout.corpus) or as a script from this folder
    from . import values as V
except ImportError:  # pragma: no cover - script use
    import values as V  # type: ignore[no-redef]

SEED = 16
COUNT = 3200
STYLES = ("chat", "form", "csv", "markdown", "log", "json", "email", "ticket", "sms", "shipping")

# How often each entity is drawn (names are the commonest PII in real text).
ENTITY_WEIGHTS = {
    "CHINESE_NAME": 14, "ENGLISH_NAME": 9, "MOBILE_PHONE": 12, "LANDLINE": 9, "PHONE_NUMBER": 5,
    "ID_CARD": 9, "PASSPORT": 6, "EMAIL": 8, "CHINESE_ADDRESS": 7, "BANK_CARD": 8,
    "LICENSE_PLATE": 6, "IPV4": 8, "IPV6": 6, "MAC_ADDRESS": 5, "USCC": 5,
}

# Cue words people write before a value: (Chinese, Latin).
CUES = {
    "CHINESE_NAME": (("姓名", "客户", "联系人", "收件人", "负责人", "申请人", "持卡人", "经办人", "用户"),
                     ("name", "Name", "contact", "customer", "owner", "user", "Contact")),
    "ENGLISH_NAME": (("姓名", "联系人", "客户", "英文名", "负责人"),
                     ("name", "Name", "contact", "owner", "assignee", "customer", "Reporter")),
    "MOBILE_PHONE": (("手机", "手机号", "电话", "联系电话", "手机号码", "联系方式"),
                     ("mobile", "phone", "tel", "cell", "Mobile", "Phone", "Tel")),
    "LANDLINE": (("座机", "办公电话", "固话", "电话", "联系电话", "公司电话"),
                 ("tel", "Tel", "office", "landline", "phone", "TEL")),
    "PHONE_NUMBER": (("电话", "海外电话", "境外手机", "联系电话", "手机"),
                     ("phone", "Phone", "intl", "whatsapp", "mobile", "tel")),
    "ID_CARD": (("身份证", "身份证号", "证件号", "身份证号码", "证件号码"),
                ("ID", "id", "idcard", "IDNo", "id_no")),
    "PASSPORT": (("护照", "护照号", "护照号码", "证件号"), ("passport", "Passport", "passportNo", "PP")),
    "EMAIL": (("邮箱", "电子邮件", "邮件", "邮箱地址"), ("email", "Email", "mail", "E-mail")),
    "CHINESE_ADDRESS": (("地址", "住址", "收货地址", "家庭住址", "通讯地址"), ("address", "Address", "addr")),
    "BANK_CARD": (("银行卡", "卡号", "银行卡号", "账号", "收款账号"), ("card", "Card", "account", "acct", "cardNo")),
    "LICENSE_PLATE": (("车牌", "车牌号", "车辆"), ("plate", "Plate", "car", "vehicle")),
    "IPV4": (("服务器", "IP地址", "来源IP", "主机"), ("IP", "ip", "host", "server", "src", "addr")),
    "IPV6": (("IPv6地址", "地址", "备注", "主机"), ("IPv6", "ipv6", "addr6", "v6", "IP")),
    "MAC_ADDRESS": (("MAC地址", "网卡地址", "物理地址"), ("MAC", "mac", "hwaddr", "ether")),
    "USCC": (("统一社会信用代码", "信用代码", "税号", "纳税人识别号"), ("USCC", "tax_id", "creditCode", "TaxID")),
}

# Entities whose value may sit right after a Latin cue with nothing between (family 1). Email is
# left out: a glued word would become part of the address's local part.
GLUEABLE = {"MOBILE_PHONE", "LANDLINE", "PHONE_NUMBER", "ID_CARD", "PASSPORT", "BANK_CARD",
            "LICENSE_PLATE", "IPV4", "IPV6", "MAC_ADDRESS", "USCC"}
# Entities recognisable by shape alone, so a text may carry them with no cue at all.
SHAPE_ONLY = {"MOBILE_PHONE", "LANDLINE", "PHONE_NUMBER", "ID_CARD", "EMAIL", "CHINESE_ADDRESS",
              "BANK_CARD", "LICENSE_PLATE", "IPV4", "IPV6", "MAC_ADDRESS"}


@dataclass
class Value:
    text: str
    entity: str
    form: str = "plain"
    prefix: str = ""  # written before the value, outside its label (e.g. "+86 ")
    suffix: str = ""  # written after it, outside its label (e.g. ":8080", "转802")
    street: tuple[int, int] | None = None


@dataclass
class Distractor:
    text: str
    kind: str
    cues: tuple[str, str]


@dataclass
class Builder:
    """Appends text and records where each value and distractor landed."""
    parts: list[str] = field(default_factory=list)
    pos: int = 0
    labels: list[dict] = field(default_factory=list)
    distractors: list[dict] = field(default_factory=list)

    def add(self, text: str) -> "Builder":
        self.parts.append(text)
        self.pos += len(text)
        return self

    def value(self, v: Value, context: str) -> "Builder":
        self.add(v.prefix)
        start = self.pos
        self.add(v.text)
        label = {"start": start, "end": self.pos, "entity": v.entity, "value": v.text,
                 "context": context, "form": v.form}
        if v.street:
            label["street_start"], label["street_end"] = start + v.street[0], start + v.street[1]
        self.labels.append(label)
        return self.add(v.suffix)

    def distractor(self, d: Distractor) -> "Builder":
        start = self.pos
        self.add(d.text)
        self.distractors.append({"start": start, "end": self.pos, "kind": d.kind, "value": d.text})
        return self

    def item(self, item, context: str) -> "Builder":
        return self.value(item, context) if isinstance(item, Value) else self.distractor(item)

    @property
    def text(self) -> str:
        return "".join(self.parts)


class Generator:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.zh = Faker("zh_CN")
        self.en = Faker("en_US")
        self.zh.seed_instance(seed)
        self.en.seed_instance(seed + 1)

    # --- values ---------------------------------------------------------------------------

    def value(self, entity: str) -> Value:
        r, rng = self.rng.random(), self.rng
        if entity == "CHINESE_NAME":
            return Value(self.zh.name(), entity)
        if entity == "ENGLISH_NAME":
            if r < 0.2:
                return Value(self.zh.romanized_name(), entity, "pinyin")
            return Value(f"{self.en.first_name()} {self.en.last_name()}", entity)
        if entity == "MOBILE_PHONE":
            m = V.mobile(rng)
            if r < 0.45:
                return Value(m, entity)
            if r < 0.6:
                return Value(f"{m[:3]} {m[3:7]} {m[7:]}", entity, "spaced")
            if r < 0.72:
                return Value(f"{m[:3]}-{m[3:7]}-{m[7:]}", entity, "dashed")
            prefix = rng.choice(("+86 ", "+86-", "+86", "(+86)", "0086 ", "86-"))
            text = m if rng.random() < 0.6 else f"{m[:3]} {m[3:7]} {m[7:]}"
            return Value(text, entity, "+86", prefix=prefix)
        if entity == "LANDLINE":
            return self.landline(mismatched=False)
        if entity == "PHONE_NUMBER":
            number = V.intl_phone(rng)
            text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
            if r < 0.3:
                return Value(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), entity, "e164")
            if r < 0.45:
                return Value(text.replace(" ", "-", 1), entity, "dashed")
            if r < 0.55:
                return Value("00" + text[1:], entity, "00")
            return Value(text, entity, "international")
        if entity == "ID_CARD":
            if r < 0.25:
                return Value(V.id_card(rng, luhn=True), entity, "luhn")
            text = V.id_card(rng, luhn=False)
            if r < 0.33 and text.endswith("X"):
                return Value(text[:-1] + "x", entity, "lower_x")
            if r < 0.4:
                return Value(f"{text[:6]} {text[6:14]} {text[14:]}", entity, "spaced")
            return Value(text, entity)
        if entity == "PASSPORT":
            return Value(V.passport(rng), entity)
        if entity == "EMAIL":
            if r < 0.3:
                return Value(self.en.free_email(), entity)
            if r < 0.5:
                return Value(self.en.company_email(), entity)
            if r < 0.8:
                domain = rng.choice(("qq.com", "163.com", "126.com", "foxmail.com", "sina.com", "aliyun.com"))
                return Value(f"{self.zh.user_name()}@{domain}", entity)
            return Value(f"{rng.randint(10000, 3999999999)}@qq.com", entity, "qq")
        if entity == "CHINESE_ADDRESS":
            a = V.address(rng, self.zh)
            return Value(a.text, entity, street=(a.street_start, a.street_end))
        if entity == "BANK_CARD":
            card = V.bank_card(rng)
            if r < 0.5:
                return Value(card, entity)
            sep = " " if r < 0.8 else "-"
            return Value(sep.join(card[i:i + 4] for i in range(0, len(card), 4)), entity,
                         "spaced" if sep == " " else "dashed")
        if entity == "LICENSE_PLATE":
            text, kind = V.plate(rng)
            if r < 0.15:
                return Value(text[:2] + "·" + text[2:], entity, kind + "_dot")
            if r < 0.25:
                return Value(text[:2] + " " + text[2:], entity, kind + "_space")
            return Value(text, entity, kind)
        if entity == "IPV4":
            text = V.ipv4(rng)
            if r < 0.15:
                return Value(text, entity, "port", suffix=f":{rng.choice((22, 80, 443, 3306, 8080, 6379))}")
            return Value(text, entity)
        if entity == "IPV6":
            text = V.ipv6(rng)
            form = "full" if text.count(":") == 7 and "::" not in text else "compressed"
            if r < 0.1:
                return Value(text, entity, form + "_bracket", prefix="[", suffix=f"]:{rng.choice((443, 8443, 22))}")
            return Value(text, entity, form)
        if entity == "MAC_ADDRESS":
            text = V.mac(rng)
            return Value(text, entity, "dash" if "-" in text else "colon")
        if entity == "USCC":
            return Value(V.uscc(rng), entity)
        raise ValueError(entity)

    def landline(self, *, mismatched: bool) -> Value:
        rng = self.rng
        area, local = V.landline_parts(rng, mismatched=mismatched)
        form = "mismatched" if mismatched else "plain"
        r = rng.random()
        suffix = rng.choice(("转802", "-8021", " ext. 35", "转6")) if rng.random() < 0.08 else ""
        if r < 0.4:
            return Value(f"{area}-{local}", "LANDLINE", form, suffix=suffix)
        if r < 0.55:
            return Value(f"({area}){local}", "LANDLINE", form, suffix=suffix)
        if r < 0.7:
            split = len(local) - 4
            return Value(f"{area} {local[:split]} {local[split:]}", "LANDLINE", form, suffix=suffix)
        if r < 0.82:
            return Value(f"{area}{local}", "LANDLINE", form, suffix=suffix)
        return Value(f"{area[1:]} {local}", "LANDLINE", form + "_+86", prefix=rng.choice(("+86 ", "+86-")))

    # --- distractors ----------------------------------------------------------------------

    def digits(self, n: int, first: str = "123456789") -> str:
        return self.rng.choice(first) + "".join(self.rng.choice("0123456789") for _ in range(n - 1))

    def fails_checksums(self, text: str) -> bool:
        """A long digit run that passes neither Luhn nor the ID check (and is no mobile number)."""
        core = text.replace("-", "")
        return not (V.luhn_valid(core) or V.id_card_valid(core)
                    or (len(core) == 11 and core[:3] in V.MOBILE_PREFIXES))

    def distractor(self, kind: str | None = None) -> Distractor:
        rng = self.rng
        kind = kind or rng.choice(DISTRACTOR_KINDS)
        date = f"20{rng.randint(18, 25)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        if kind == "order_no":
            while True:
                text = rng.choice((date + self.digits(rng.choice((8, 10, 11)), "0123456789"),
                                   "ORD" + date + self.digits(6), "DD" + self.digits(16),
                                   f"PO-{date[:4]}-{self.digits(5)}", "E" + date + self.digits(6)))
                if self.fails_checksums(text.lstrip("ORDDPOE-")):
                    return Distractor(text, kind, (rng.choice(("订单号", "订单编号", "单号")), rng.choice(("order", "order_id", "orderNo"))))
        if kind == "tracking_no":
            text = rng.choice(("SF" + self.digits(12), "YT" + self.digits(13), "JT" + self.digits(13),
                               "JDVA" + self.digits(11), "SF" + self.digits(12)))
            return Distractor(text, kind, (rng.choice(("运单号", "快递单号", "物流单号")), rng.choice(("tracking", "waybill", "trackingNo"))))
        if kind == "invoice_no":
            while True:
                text = rng.choice((f"INV-{date[:4]}-{self.digits(6, '0123456789')}", "INV" + self.digits(9),
                                   self.digits(8), date[2:4] + self.digits(18)))
                if self.fails_checksums(text.removeprefix("INV-").removeprefix("INV")):
                    return Distractor(text, kind, (rng.choice(("发票号码", "发票号", "发票代码")), rng.choice(("invoice", "invoice_id", "Invoice No."))))
        if kind == "version":
            parts = [rng.randint(0, 20), rng.randint(0, 30), rng.randint(0, 200), rng.randint(0, 255)]
            text = rng.choice((".".join(map(str, parts)), "v" + ".".join(map(str, parts)),
                               ".".join(map(str, parts[:3])), f"10.0.{rng.randint(17000, 22631)}.{rng.randint(1, 4000)}",
                               f"{rng.randint(100, 131)}.0.{rng.randint(5000, 6999)}.{rng.randint(10, 250)}"))
            return Distractor(text, kind, (rng.choice(("版本", "版本号", "客户端版本")), rng.choice(("version", "ver", "build", "app_version"))))
        if kind == "timestamp":
            t = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
            iso = f"{date[:4]}-{date[4:6]}-{date[6:]}"
            text = rng.choice((f"{iso} {t}", f"{iso}T{t}+08:00", f"{iso}T{t}.{rng.randint(100, 999)}Z",
                               str(rng.randint(1_500_000_000, 1_760_000_000)),
                               str(rng.randint(1_500_000_000_000, 1_760_000_000_000)), f"{iso} {t}.{rng.randint(100, 999)}"))
            return Distractor(text, kind, (rng.choice(("时间", "创建时间", "下单时间")), rng.choice(("ts", "time", "created_at", "timestamp"))))
        if kind == "price":
            amount = rng.randint(1, 99999) + rng.choice((0, 0.99, 0.5, 0.0))
            text = rng.choice((f"¥{amount:,.2f}", f"${amount:.2f}", f"{amount:.2f}元", f"￥{int(amount)}", f"USD {amount:,.2f}"))
            return Distractor(text, kind, (rng.choice(("价格", "单价", "售价", "话费", "电话费")), rng.choice(("price", "unit_price", "phone_bill"))))
        if kind == "amount":
            amount = rng.randint(100, 9_999_999) + rng.randint(0, 99) / 100
            text = rng.choice((f"{amount:,.2f}", f"{amount:.2f}", str(int(amount))))
            return Distractor(text, kind, (rng.choice(("金额", "合计", "转账金额", "余额")), rng.choice(("amount", "total", "balance"))))
        if kind == "product_code":
            text = rng.choice((f"SKU-{rng.choice('ABCDEFGH')}{self.digits(4)}-{rng.choice(('S', 'M', 'L', 'XL'))}",
                               f"RTX{rng.choice((3060, 4070, 4090))}", f"{rng.choice(('MX', 'HW', 'XM'))}-{self.digits(5)}",
                               f"74HC{self.digits(3)}D", f"69{self.digits(11, '0123456789')}"))
            return Distractor(text, kind, (rng.choice(("商品编码", "型号", "料号")), rng.choice(("sku", "model", "P/N"))))
        if kind == "hex_hash":
            bits = rng.choice((28, 128, 160, 256))
            text = f"{rng.getrandbits(bits):0{bits // 4}x}"
            return Distractor(text, kind, (rng.choice(("哈希", "校验值", "提交")), rng.choice(("sha", "md5", "commit", "trace_id"))))
        if kind == "uuid":
            text = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            return Distractor(text, kind, (rng.choice(("请求ID", "流水ID")), rng.choice(("request_id", "uuid", "session"))))
        if kind == "bad_checksum_digits":
            while True:
                shape = rng.random()
                if shape < 0.4:  # 18 digits shaped like an ID number with a wrong check digit
                    first17 = V.id_card(rng)[:17]
                    text = first17 + rng.choice([c for c in "0123456789" if c != V.id_check_char(first17)])
                elif shape < 0.8:  # a card-BIN digit string failing Luhn
                    prefix, length = rng.choice(V.CARD_BINS)
                    text = prefix + self.digits(length - 6, "0123456789")
                else:
                    text = self.digits(rng.choice((12, 15, 17, 20)))
                if self.fails_checksums(text):
                    if rng.random() < 0.25:  # a Latin-prefixed serial, shaped like a glued cue + value
                        return Distractor(rng.choice(("SN", "NO", "TX", "REF")) + text, kind, ("序列号", "serial"))
                    return Distractor(text, kind, (rng.choice(("编号", "流水号", "参考号", "批次号")), rng.choice(("ref", "serial", "batch", "txn"))))
        if kind == "date":
            y, m, d = rng.randint(1960, 2025), rng.randint(1, 12), rng.randint(1, 28)
            text = rng.choice((f"{y}年{m}月{d}日", f"{y}/{m:02d}/{d:02d}", f"{m:02d}/{d:02d}/{y}", f"{y}-{m:02d}-{d:02d}", f"{y}.{m:02d}.{d:02d}"))
            return Distractor(text, kind, (rng.choice(("日期", "生效日期", "到期日")), rng.choice(("date", "due", "expires"))))
        if kind == "coordinates":
            text = f"{rng.uniform(18, 50):.4f},{rng.uniform(75, 134):.4f}"
            return Distractor(text, kind, (rng.choice(("坐标", "经纬度")), rng.choice(("loc", "latlng", "geo"))))
        if kind == "oid":
            text = "1.3.6.1.4.1." + ".".join(str(rng.randint(1, 60000)) for _ in range(rng.randint(1, 3)))
            return Distractor(text, kind, ("OID", "oid"))
        if kind == "code_ref":
            text = rng.choice(("std::vector", "Config::Load", "Foo::bar()", "app::handler", "Base::init"))
            return Distractor(text, kind, ("函数", "fn"))
        if kind == "verification_code":
            text = self.digits(6, "0123456789")
            return Distractor(text, kind, (rng.choice(("验证码", "取件码")), rng.choice(("code", "otp"))))
        if kind == "quantity":
            text = rng.choice((f"{rng.randint(1, 99)}.{rng.randint(0, 9)}%", f"{rng.randint(1, 500)}件", f"{rng.randint(1, 64)}GB", f"{rng.randint(1, 9999)} pcs"))
            return Distractor(text, kind, (rng.choice(("数量", "占比", "容量")), rng.choice(("qty", "ratio", "size"))))
        raise ValueError(kind)

    # --- how a value sits next to its cue ---------------------------------------------------

    def cue(self, entity: str, lang: str) -> str:
        return self.rng.choice(CUES[entity][0 if lang == "zh" else 1])

    def inline(self, b: Builder, item) -> None:
        """Writes ``item`` (a Value or a Distractor) into running text with a cue next to it."""
        rng = self.rng
        if isinstance(item, Distractor):
            zh, en = item.cues
            b.add(rng.choice((zh, zh + "：", zh + " ", en + ": ", en + " ", en + "=", en + ":")))
            b.distractor(item)
            return
        entity = item.entity
        if entity in ("CHINESE_NAME", "ENGLISH_NAME"):
            self.inline_name(b, item)
            return
        if item.form.startswith("mismatched"):  # family 3: always next to a phone cue
            lang = rng.choice(("zh", "en"))
            cue = rng.choice(("座机", "办公电话", "电话", "联系电话")) if lang == "zh" else rng.choice(("tel", "Tel", "phone", "office"))
            joiner = rng.choice(("", "：", ":", " ", ": ")) if lang == "zh" else rng.choice((":", ": ", " ", ""))
            b.add(cue + joiner).value(item, f"{lang}_{JOINER_NAMES[joiner]}")
            return
        modes = ["zh_glued", "zh_fwcolon", "zh_colon", "zh_colon_space", "zh_is", "en_colon", "en_colon_space", "en_space"]
        if entity in GLUEABLE and not item.prefix:
            modes += ["en_glued", "en_glued"]
        if entity in SHAPE_ONLY:
            modes += ["none"]
        mode = rng.choice(modes)
        if mode == "none":
            b.value(item, "no_cue")
            return
        lang, _, how = mode.partition("_")
        cue = self.cue(entity, lang)
        joiner = {"glued": "", "fwcolon": "：", "colon": ":", "colon_space": ": ", "is": "是", "space": " "}[how]
        b.add(cue + joiner).value(item, mode)

    def inline_name(self, b: Builder, item: Value) -> None:
        rng = self.rng
        if item.entity == "CHINESE_NAME":
            choice = rng.randrange(8)
            if choice == 0:
                b.add(self.cue("CHINESE_NAME", "zh")).value(item, "zh_glued")
            elif choice == 1:
                b.add(self.cue("CHINESE_NAME", "zh") + rng.choice(("：", ":", ": "))).value(item, "kv")
            elif choice == 2:
                b.add(self.cue("CHINESE_NAME", "en") + rng.choice((":", ": ", " "))).value(item, "latin_label")
            elif choice == 3:
                b.value(item, "honorific").add(rng.choice(("先生", "女士", "老师", "同学")))
            elif choice == 4:
                b.add(rng.choice(("我是", "我叫", "本人"))).value(item, "self_intro")
            elif choice == 5:
                b.add(rng.choice(("请转告", "麻烦联系", "已通知", "@"))).value(item, "sentence")
            elif choice == 6:
                b.value(item, "sentence").add(rng.choice(("说", "反馈", "的订单", "已确认")))
            else:
                b.add(rng.choice(("客户", "联系人")) + rng.choice(("是", "为"))).value(item, "zh_is")
            return
        choice = rng.randrange(8)
        if choice == 0:
            b.add(self.cue("ENGLISH_NAME", "en") + rng.choice((": ", ":"))).value(item, "latin_label")
        elif choice == 1:
            b.add(rng.choice(("Mr. ", "Ms. ", "Mrs. ", "Dr. "))).value(item, "honorific")
        elif choice == 2:
            b.add(rng.choice(("Hi ", "Dear ", "Hello "))).value(item, "greeting").add(",")
        elif choice == 3:
            b.value(item, "no_honorific").add(rng.choice((" called", " wrote", " said", " will follow up", " 反馈")))
        elif choice == 4:
            b.add(rng.choice(("assigned to ", "cc ", "by ", "请联系 ", "交给 "))).value(item, "no_honorific")
        elif choice == 5:
            b.add(self.cue("ENGLISH_NAME", "zh") + rng.choice(("：", ":", " "))).value(item, "kv")
        else:
            b.add(rng.choice(("contact ", "owner ", "customer "))).value(item, "latin_label")

    # --- samples --------------------------------------------------------------------------

    def items(self) -> list:
        rng = self.rng
        entities = list(ENTITY_WEIGHTS)
        weights = list(ENTITY_WEIGHTS.values())
        n = rng.choice((1, 2, 2, 3, 3, 4))
        chosen = []
        for entity in rng.choices(entities, weights, k=n):
            if entity == "LANDLINE" and rng.random() < 0.25:
                chosen.append(self.landline(mismatched=True))
            else:
                chosen.append(self.value(entity))
        chosen += [self.distractor() for _ in range(rng.choice((0, 1, 1, 2, 2, 3)))]
        rng.shuffle(chosen)
        return chosen

    def sample(self, index: int, style: str) -> dict:
        while True:
            items = self.items()
            texts = [i.text for i in items]
            # one occurrence per value: the leak check looks the value up in the masked text
            if len(set(texts)) == len(texts) and not any(a != b and a in b for a in texts for b in texts):
                break
        b = Builder()
        getattr(self, "style_" + style)(b, items)
        return {"id": index, "style": style, "text": b.text, "labels": b.labels, "distractors": b.distractors}

    # --- styles ---------------------------------------------------------------------------

    def style_chat(self, b: Builder, items: list) -> None:
        rng = self.rng
        speakers = ("客服", "用户", "agent", "me", "我", "Support", "访客")
        openers = ("你好，", "您好，", "hi, ", "好的，", "", "麻烦核实一下，", "pls check: ", "补充一下：")
        closers = ("，谢谢", "，麻烦尽快处理", " thx", "。", "，对吗？", "", " 已更新", "，请确认")
        used = {i.text for i in items}
        for i, item in enumerate(items):
            b.add(f"[{rng.randint(8, 22):02d}:{rng.randint(0, 59):02d}] ")
            speaker = self.value(rng.choice(("CHINESE_NAME", "ENGLISH_NAME"))) if rng.random() < 0.2 else None
            if speaker and not any(speaker.text in t or t in speaker.text for t in used):
                used.add(speaker.text)  # a chat export names its speakers: a name with no cue at all
                b.value(speaker, "speaker")
            else:
                b.add(rng.choice(speakers))
            b.add(f": {rng.choice(openers)}")
            self.inline(b, item)
            b.add(rng.choice(closers))
            if i < len(items) - 1:
                b.add("\n")

    def style_form(self, b: Builder, items: list) -> None:
        rng = self.rng
        lang = rng.choice(("zh", "en", "mixed"))
        b.add(rng.choice(("【客户信息登记】\n", "Customer form\n", "申请表\n", "", "资料更新：\n")))
        for i, item in enumerate(items):
            item_lang = lang if lang != "mixed" else rng.choice(("zh", "en"))
            sep = rng.choice(("：", ":", ": ", " : ", "\t"))
            if isinstance(item, Distractor):
                b.add(item.cues[0 if item_lang == "zh" else 1] + sep).distractor(item)
            else:
                context = "kv" if sep != ":" else f"{item_lang}_colon"
                b.add(self.cue(item.entity, item_lang) + sep).value(item, context)
            b.add("\n" if i < len(items) - 1 else "")

    def _header(self, item, lang: str) -> str:
        if isinstance(item, Distractor):
            return item.cues[0 if lang == "zh" else 1]
        return self.cue(item.entity, lang)

    def style_csv(self, b: Builder, items: list) -> None:
        rng = self.rng
        lang = rng.choice(("zh", "en"))
        sep = rng.choice((",", ",", "\t", ";"))
        quote = rng.random() < 0.25
        b.add(sep.join(self._header(i, lang) for i in items) + "\n")
        for j, item in enumerate(items):
            if j:
                b.add(sep)
            b.add('"' if quote else "")
            b.item(item, "csv_header")
            b.add('"' if quote else "")

    def style_markdown(self, b: Builder, items: list) -> None:
        rng = self.rng
        lang = rng.choice(("zh", "en"))
        if rng.random() < 0.5:  # one row, the cue is the header cell above the value
            b.add("| " + " | ".join(self._header(i, lang) for i in items) + " |\n")
            b.add("|" + "---|" * len(items) + "\n| ")
            for j, item in enumerate(items):
                b.item(item, "table_header").add(" | " if j < len(items) - 1 else " |")
        else:  # a field/value table, the cue is the cell before the value
            b.add(rng.choice(("| 字段 | 值 |\n|---|---|\n", "| field | value |\n|---|---|\n", "| 项目 | 内容 |\n| --- | --- |\n")))
            for j, item in enumerate(items):
                b.add(f"| {self._header(item, lang)} | ").item(item, "table_row_header").add(" |")
                b.add("\n" if j < len(items) - 1 else "")

    def style_log(self, b: Builder, items: list) -> None:
        rng = self.rng
        ts = self.distractor("timestamp")
        b.distractor(ts).add(f" {rng.choice(('INFO', 'WARN', 'ERROR', 'DEBUG'))} [{rng.choice(('auth', 'gateway', 'order-svc', 'pay', 'sync'))}] ")
        b.add(rng.choice(("login ok", "request done", "用户更新资料", "retry", "风控命中", "callback")) + " ")
        for j, item in enumerate(items):
            if isinstance(item, Distractor):
                b.add(item.cues[1] + "=").distractor(item)
            elif rng.random() < 0.3 and item.entity in GLUEABLE and not item.prefix:
                b.add(self.cue(item.entity, "en")).value(item, "en_glued")  # family 1
            elif item.entity in ("CHINESE_NAME", "ENGLISH_NAME") or rng.random() < 0.7:
                b.add(self.cue(item.entity, "en") + "=").value(item, "en_eq")
            else:
                self.inline(b, item)
            b.add(" " if j < len(items) - 1 else "")

    def style_json(self, b: Builder, items: list) -> None:
        rng = self.rng
        lang = rng.choice(("en", "en", "zh"))
        indent = rng.random() < 0.4
        b.add("{\n  " if indent else "{")
        for j, item in enumerate(items):
            key = self._header(item, lang)
            b.add(json.dumps(key, ensure_ascii=False) + ": \"")
            b.item(item, "json_key")
            b.add("\"" + ((",\n  " if indent else ", ") if j < len(items) - 1 else ""))
        b.add("\n}" if indent else "}")

    def style_email(self, b: Builder, items: list) -> None:
        rng = self.rng
        if rng.random() < 0.5:  # a header line: display name, then the address in angle brackets
            name = self.value(rng.choice(("CHINESE_NAME", "ENGLISH_NAME", "ENGLISH_NAME")))
            mail = self.value("EMAIL")
            if not any(v.text in t or t in v.text for v in (name, mail) for t in [i.text for i in items]):
                b.add(rng.choice(("From: ", "To: ", "发件人: ", "Cc: "))).value(name, "mail_header")
                b.add(" <").value(mail, "mail_header").add(">\n")
        b.add(f"Subject: {rng.choice(('资料变更', 'Re: 退款申请', 'Account update', '报销信息', 'Fwd: 合同'))}\n\n")
        b.add(rng.choice(("您好，\n\n", "Hi team,\n\n", "各位好：\n", "Hello,\n\n")))
        for item in items:
            b.add(rng.choice(("请更新", "Please note ", "附上", "", "新的", "FYI ")))
            self.inline(b, item)
            b.add(rng.choice(("。\n", ".\n", "；\n", "\n")))
        b.add(rng.choice(("\nBest regards", "\n谢谢", "\nThanks")))

    def style_ticket(self, b: Builder, items: list) -> None:
        rng = self.rng
        if rng.random() < 0.5:
            b.add(f"【工单 #{rng.randint(10000, 99999)}】优先级：P{rng.randint(1, 4)}\n问题描述：")
        else:
            b.add(f"Ticket #{rng.randint(10000, 99999)} | Priority: {rng.choice(('High', 'Low', 'Medium'))}\nDescription: ")
        for j, item in enumerate(items):
            b.add(rng.choice(("用户反馈", "客户提供的", "", "核对", "reported ", "see ")))
            self.inline(b, item)
            b.add(rng.choice(("；", "; ", "，", "\n")) if j < len(items) - 1 else "")
        b.add(rng.choice(("\n状态：待处理", "\nStatus: open", "")))

    def style_sms(self, b: Builder, items: list) -> None:
        rng = self.rng
        b.add(f"【{rng.choice(('顺丰速运', '招商银行', '中国移动', '某某物业', '京东'))}】")
        b.add(rng.choice(("尊敬的客户，", "您好，", "温馨提示：", "")))
        for j, item in enumerate(items):
            self.inline(b, item)
            b.add(rng.choice(("，", "；", "。")) if j < len(items) - 1 else "。")
        b.add(rng.choice(("退订回T", "如有疑问请回复", "")))

    def style_shipping(self, b: Builder, items: list) -> None:
        """Name, phone and address in a row with no cue at all, the way parcels are addressed,
        then whatever else the message carries."""
        rng = self.rng
        rest = list(items)
        b.add(rng.choice(("收货信息：", "寄件：", "", "地址：", "ship to: ")))
        name = self.value(rng.choice(("CHINESE_NAME", "CHINESE_NAME", "ENGLISH_NAME")))
        phone = self.value("MOBILE_PHONE")
        addr = self.value("CHINESE_ADDRESS")
        texts = {i.text for i in rest}
        if not ({name.text, phone.text, addr.text} & texts):
            sep = rng.choice((" ", "，", ", ", "  "))
            b.value(name, "no_cue").add(sep).value(phone, "no_cue").add(sep).value(addr, "no_cue")
            b.add("\n" if rest else "")
        for j, item in enumerate(rest):
            self.inline(b, item)
            b.add(" " if j < len(rest) - 1 else "")


JOINER_NAMES = {"": "glued", "：": "fwcolon", ":": "colon", " ": "space", ": ": "colon_space"}
DISTRACTOR_KINDS = ("order_no", "order_no", "tracking_no", "tracking_no", "invoice_no", "version", "version",
                    "timestamp", "price", "amount", "product_code", "hex_hash", "uuid", "bad_checksum_digits",
                    "bad_checksum_digits", "date", "coordinates", "oid", "code_ref", "verification_code", "quantity")


def generate(count: int = COUNT, seed: int = SEED) -> list[dict]:
    """``count`` labelled samples, the styles in turn; the same list for the same seed."""
    gen = Generator(seed)
    return [gen.sample(i, STYLES[i % len(STYLES)]) for i in range(count)]


def main(argv: list[str]) -> int:
    out = argv[argv.index("--out") + 1] if "--out" in argv else None
    samples = generate()
    lines = "\n".join(json.dumps(s, ensure_ascii=False) for s in samples) + "\n"
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write(lines)
        print(f"{len(samples)} samples -> {out}")
    else:
        sys.stdout.write(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
