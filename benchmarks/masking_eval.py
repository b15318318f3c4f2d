"""Labelled evaluation set for the masking engine, generated (Faker zh_CN + en_US), and its scorer.

``generate(n, seed)`` builds ``n`` samples: sentences from varied templates with sensitive values
at known offsets. About half the values touch CJK characters with no space in between (the case
``\\b`` patterns miss; a few digits are typed full-width, ``１３８...``); some samples carry distractors that must stay untouched (order numbers,
amounts, timestamps, versions, employee ids, tracking numbers, ID-like numbers with impossible
dates, card-like numbers failing Luhn) or filler sentences full of surname characters.

``score(samples, predict, ...)`` reports per entity: precision, recall, exact-span rate, and
whether a detected raw value survives in the masked text; plus the share of distractors left alone.
Importable (tests/test_masking.py, benchmarks/bench_masking.py) and runnable:
``python benchmarks/masking_eval.py [n] [seed]``.
"""
from __future__ import annotations

import ipaddress
import random
import re
import sys
from dataclasses import dataclass, field
from typing import Callable, Iterable

STRUCTURED = ("ID_CARD", "MOBILE_PHONE", "LANDLINE", "PHONE_NUMBER", "BANK_CARD", "EMAIL", "IPV4", "IPV6", "LICENSE_PLATE",
              "USCC", "PASSPORT", "MAC_ADDRESS")
FUZZY = ("CHINESE_NAME", "CHINESE_ADDRESS", "ENGLISH_NAME")
ENTITIES = STRUCTURED + FUZZY


@dataclass
class Sample:
    text: str
    labels: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, entity)
    distractors: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, kind)
    tight: list[bool] = field(default_factory=list)  # per label: touches CJK with no space


# -- templates ----------------------------------------------------------------------------------
# {ENTITY} is a value slot, {~kind} a distractor slot. Chinese templates put CJK on both sides of
# a slot; the generator then either leaves it tight or loosens it with a space or punctuation.

ZH_TEMPLATES = [
    "我的手机号是{MOBILE_PHONE}有事随时联系", "请拨打{MOBILE_PHONE}联系客服", "联系电话{MOBILE_PHONE}工作日可接听",
    "他换了新号码{MOBILE_PHONE}旧号已经停用", "办公室电话{LANDLINE}转人事部", "座机{LANDLINE}周一至周五有人接听",
    "传真号码{LANDLINE}请注明收件人", "身份证号码{ID_CARD}已经核验", "证件号{ID_CARD}请妥善保管",
    "他的身份证是{ID_CARD}户籍在外地", "银行卡号{BANK_CARD}开户行是招商银行", "请把钱转到{BANK_CARD}户名见备注",
    "信用卡{BANK_CARD}本月账单已出", "邮箱{EMAIL}欢迎来信", "请发送简历至{EMAIL}我们会尽快回复",
    "服务器地址{IPV4}端口已开放", "登录IP为{IPV4}请核实是否本人", "来自{IPV4}的访问被拦截",
    "IPv6地址{IPV6}已分配", "主机{IPV6}无法访问", "设备MAC地址{MAC_ADDRESS}已绑定", "网卡{MAC_ADDRESS}被禁用",
    "车牌号{LICENSE_PLATE}的车辆违停", "车辆{LICENSE_PLATE}已驶入停车场", "我的车是{LICENSE_PLATE}白色轿车",
    "护照号码{PASSPORT}有效期至二零三零年", "凭护照{PASSPORT}办理登机", "统一社会信用代码{USCC}注册资本一千万",
    "公司信用代码{USCC}已通过年检", "纳税人识别号{USCC}开票时填写",
    "我叫{CHINESE_NAME}今年三十岁", "联系人{CHINESE_NAME}负责对接", "{CHINESE_NAME}的手机号是{MOBILE_PHONE}",
    "请{CHINESE_NAME}明天上午来办公室", "患者{CHINESE_NAME}主诉头痛三天", "{CHINESE_NAME}先生您好",
    "{CHINESE_NAME}女士的订单已发货", "收件人{CHINESE_NAME}电话{MOBILE_PHONE}", "经办人{CHINESE_NAME}签字确认",
    "{CHINESE_NAME}和{CHINESE_NAME}是同事", "昨天{CHINESE_NAME}提交了报销申请", "客户{CHINESE_NAME}反映网速慢",
    "由{CHINESE_NAME}负责本项目", "感谢{CHINESE_NAME}的帮助", "申请人{CHINESE_NAME}身份证号{ID_CARD}",
    "家住{CHINESE_ADDRESS}离地铁站很近", "收货地址{CHINESE_ADDRESS}请放快递柜", "公司位于{CHINESE_ADDRESS}欢迎来访",
    "请把文件寄到{CHINESE_ADDRESS}谢谢", "他搬到了{CHINESE_ADDRESS}附近", "地址{CHINESE_ADDRESS}邮编另附",
    "{CHINESE_NAME}身份证{ID_CARD}手机{MOBILE_PHONE}住{CHINESE_ADDRESS}",
    "持卡人{CHINESE_NAME}卡号{BANK_CARD}预留手机{MOBILE_PHONE}",
    "香港同事的电话是{PHONE_NUMBER}请转告", "海外客服热线{PHONE_NUMBER}全天候服务",
    "{CHINESE_NAME}，男，1985年出生", "值班人员：{CHINESE_NAME}", "转账给{CHINESE_NAME}五百元",
    "抄送{CHINESE_NAME}、{CHINESE_NAME}", "{CHINESE_NAME}（工号A1023）已入职", "本次会议由{CHINESE_NAME}主持",
    "@{CHINESE_NAME} 请查收附件", "项目经理{CHINESE_NAME}已确认", "{CHINESE_NAME}同学请到教务处",
    "我和{CHINESE_NAME}约好了周末见面", "发货地：{CHINESE_ADDRESS}", "{CHINESE_ADDRESS}的房子出租",
    "注册地址为{CHINESE_ADDRESS}", "导航到{CHINESE_ADDRESS}大约二十分钟",
]
EN_TEMPLATES = [
    "Call me at {MOBILE_PHONE} after 6pm.", "My email is {EMAIL}, thanks.", "Card number {BANK_CARD} expires 09/27.",
    "Server {IPV4} is down again.", "Dear {ENGLISH_NAME}, your order has shipped.",
    "Please contact {ENGLISH_NAME} at {EMAIL} for details.", "{ENGLISH_NAME} will join the call tomorrow.",
    "Passport No. {PASSPORT} (expires 2031).", "MAC {MAC_ADDRESS} was blocked by the firewall.",
    "IPv6 {IPV6} assigned to eth0.", "Office line: {LANDLINE} ext. 12", "ID {ID_CARD} verified today.",
    "Plate {LICENSE_PLATE} parked at gate 3.", "USCC {USCC} on the invoice.", "Regards, {ENGLISH_NAME}",
    "Mr. {ENGLISH_NAME} asked for a refund.", "Name: {ENGLISH_NAME}; phone {MOBILE_PHONE}",
    "Transfer to {BANK_CARD} before Friday.", "Send the report to {EMAIL} and {EMAIL}.",
    "Reach our London office on {PHONE_NUMBER} or by email.", "Her cell is {PHONE_NUMBER}.",
]
DISTRACTOR_TEMPLATES = [
    "订单号{~order}已支付", "订单{~order}正在出库", "Order #{~order} confirmed.", "合计金额{~amount}请核对",
    "本月消费{~amount}已入账", "Total: {~amount}", "时间戳{~timestamp}记录在日志中", "created_at {~timestamp}",
    "已升级到版本{~version}请重启", "Running version {~version} in production.", "工号{~employee}已离职",
    "employee id {~employee} on leave", "快递单号{~tracking}已签收", "Tracking number {~tracking} in transit.",
    "编号{~badid}格式错误", "档案号{~badid}归档", "卡号{~badcard}校验失败", "测试号码{~badcard}无效",
]
FILLERS = [
    "我们会尽快处理您的问题。", "对方明确表示同意这个方案。", "公司高度重视数据安全。", "明天下午三点开会讨论预算。",
    "请于本周五前提交材料。", "感谢您的耐心等待。", "方便的话请回复确认。", "这个价格比上个月高了一些。",
    "会议改到周四上午。", "请尽量使用加密渠道传输文件。", "Thanks for your patience.", "The meeting moved to Thursday.",
    "金额较大时需要主管审批。", "石家庄的天气今天不错。", "王者荣耀更新了新版本。", "周末大家一起去爬山吧。",
    "高铁票已经订好了。", "明年计划扩大招聘规模。", "方案需要再讨论一下。", "金融行业监管趋严。", "白天气温较高，注意防暑。",
    "安全生产无小事。", "常见问题请查看帮助文档。", "关于系统升级的通知已发布。", "文件已上传到共享盘。",
    "万一出现故障请联系运维。", "全体员工下午两点集合。", "成本控制是今年的重点。", "于是大家决定延期。",
    "任何人不得泄露客户信息。", "向日葵长得很好。", "黄金价格持续上涨。", "周报请在周一提交。", "李子和桃子都熟了。",
    "马上就到年底了。", "林业部门发布了防火通知。", "江南的春天很美。", "宋体字号太小了。", "陈列柜需要重新布置。",
    "谢谢大家的支持。", "钱款已退回原账户。", "高度关注用户反馈。", "张贴通知的地方在一楼。", "程序已经重新部署。",
    "温度传感器读数异常。", "车辆保养记录已更新。", "雷雨天气请勿外出。", "许多用户反映登录慢。", "何时恢复服务还不确定。",
    "郑重声明：本公司从未授权他人。", "罗列问题清单后再开会。", "The Great Wall is long.", "Meeting Room B is booked.",
]
LOOSE = [(" ", " "), ("：", "，"), (" ", "，"), ("“", "”"), ("（", "）")]

AREA_CODES = ["010", "020", "021", "022", "023", "024", "025", "027", "028", "029", "0755", "0571", "0512",
              "0532", "0731", "0591", "0871", "0431", "0451", "0311", "0371", "0551", "0791", "0757",
              "0769", "0574", "0510", "0898"]
SEVEN_DIGIT_AREAS = ["0351", "0592"]  # cities whose local numbers have 7 digits
PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


class _Values:
    """Generators of realistic values (entity -> str) and distractors (kind -> str)."""

    def __init__(self, seed: int) -> None:
        from faker import Faker

        self.rng = random.Random(seed)
        self.zh = Faker("zh_CN")
        self.en = Faker("en_US")
        self.zh.seed_instance(seed)
        self.en.seed_instance(seed + 1)

    # entities
    def MOBILE_PHONE(self) -> str:
        n = self.zh.phone_number()
        r = self.rng.random()
        if r < 0.45:
            return n
        if r < 0.6:
            return f"{n[:3]} {n[3:7]} {n[7:]}"
        if r < 0.7:
            return f"{n[:3]}-{n[3:7]}-{n[7:]}"
        if r < 0.85:
            return "+86 " + n if self.rng.random() < 0.5 else "+86-" + n
        return "0086" + n if self.rng.random() < 0.5 else f"+86 {n[:3]} {n[3:7]} {n[7:]}"

    def LANDLINE(self) -> str:
        seven = self.rng.random() < 0.15
        area = self.rng.choice(SEVEN_DIGIT_AREAS if seven else AREA_CODES)
        number = str(self.rng.randint(2, 8)) + "".join(self.rng.choice("0123456789") for _ in range(6 if seven else 7))
        style = self.rng.randrange(5)
        if style == 0:
            return f"{area}-{number}"
        if style == 1:
            return f"({area}){number}"
        if style == 2:
            return f"{area} {number}"
        if style == 3:
            return f"（{area}）{number}"
        return f"{area}-{number}-{self.rng.randint(100, 9999)}"

    def PHONE_NUMBER(self) -> str:
        """A number outside mainland China written with its +country code."""
        rng = self.rng
        d = lambda n: "".join(rng.choice("0123456789") for _ in range(n))  # noqa: E731
        kind = rng.randrange(4)
        if kind == 0:
            area = rng.choice(["212", "415", "650", "617", "312", "206", "305", "713"])
            return f"+1 {area}-{rng.randint(2, 9)}{d(2)}-{d(4)}" if rng.random() < 0.5 \
                else f"+1 ({area}) {rng.randint(2, 9)}{d(2)}-{d(4)}"
        if kind == 1:
            return f"+852 {rng.choice('235689')}{d(3)} {d(4)}"
        if kind == 2:
            return f"+44 20 {rng.choice('378')}{d(3)} {d(4)}"
        return f"+65 {rng.choice('689')}{d(3)} {d(4)}"

    def ID_CARD(self) -> str:
        return self.zh.ssn()

    def BANK_CARD(self) -> str:
        from stdnum import luhn

        kind = self.rng.random()
        if kind < 0.5:
            length = self.rng.choice([16, 16, 17, 18, 19, 19])
            body = self.rng.choice(["6222", "6228", "6217", "6214", "6225", "6230", "6259", "6212"]) + "".join(
                self.rng.choice("0123456789") for _ in range(length - 5))
            digits = body + luhn.calc_check_digit(body)
        else:
            digits = self.en.credit_card_number(self.rng.choice(["visa16", "mastercard", "visa13", "amex"]))
        if self.rng.random() < 0.5:
            return digits
        if len(digits) == 15:  # Amex groups 4-6-5
            return f"{digits[:4]} {digits[4:10]} {digits[10:]}"
        sep = self.rng.choice([" ", " ", "-"])
        return sep.join(digits[i:i + 4] for i in range(0, len(digits), 4))

    def EMAIL(self) -> str:
        return (self.zh if self.rng.random() < 0.5 else self.en).email()

    def IPV4(self) -> str:
        return self.en.ipv4_private() if self.rng.random() < 0.4 else self.en.ipv4_public()

    def IPV6(self) -> str:
        full = self.en.ipv6()
        if self.rng.random() < 0.5:
            return full
        groups = full.split(":")
        i = self.rng.randrange(1, 6)
        groups[i:i + 2] = ["0", "0"]
        return str(ipaddress.IPv6Address(":".join(groups)))  # compressed form with ::

    def MAC_ADDRESS(self) -> str:
        mac = self.en.mac_address()
        r = self.rng.random()
        if r < 0.3:
            return mac.upper()
        if r < 0.5:
            return mac.replace(":", "-").upper()
        return mac

    def LICENSE_PLATE(self) -> str:
        rng = self.rng
        head = rng.choice(PLATE_PROVINCES) + rng.choice(PLATE_LETTERS)
        r = rng.random()
        if r < 0.25:  # new-energy small car: D/F + 5
            serial = rng.choice("DF") + (rng.choice(PLATE_LETTERS) if rng.random() < 0.3 else str(rng.randrange(10))) \
                + "".join(rng.choice("0123456789") for _ in range(4))
        elif r < 0.35:  # new-energy large vehicle: 5 digits + D/F
            serial = "".join(rng.choice("0123456789") for _ in range(5)) + rng.choice("DF")
        else:
            serial = "".join(rng.choice("0123456789") if rng.random() < 0.8 else rng.choice(PLATE_LETTERS)
                             for _ in range(5))
            while sum(c.isalpha() for c in serial) > 2:  # GA 36: at most two letters in a serial
                i = next(i for i, c in enumerate(serial) if c.isalpha())
                serial = serial[:i] + str(rng.randrange(10)) + serial[i + 1:]
        return head + rng.choice(["", "", "·", " ", "-"]) + serial

    def PASSPORT(self) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.5:
            return "E" + "".join(rng.choice("0123456789") for _ in range(8))
        if r < 0.75:
            return "E" + rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") + "".join(rng.choice("0123456789") for _ in range(7))
        if r < 0.85:
            return "G" + "".join(rng.choice("0123456789") for _ in range(8))
        return self.en.passport_number()

    def USCC(self) -> str:
        from stdnum.cn import uscc

        rng = self.rng
        # Characters 9-17 are the organisation code (GB 11714), which carries its own check digit.
        org = "".join(rng.choice(USCC_CHARS[:10] if i < 2 else USCC_CHARS) for i in range(8))
        total = sum(int(c, 36) * w for c, w in zip(org, (3, 7, 9, 10, 5, 8, 4, 2)))
        org += "0123456789X0"[11 - total % 11]
        body = rng.choice("159") + rng.choice("123") + self.zh.ssn()[:6] + org
        return body + uscc.calc_check_digit(body)

    def CHINESE_NAME(self) -> str:
        return self.zh.name()

    def ENGLISH_NAME(self) -> str:
        return f"{self.en.first_name()} {self.en.last_name()}"

    def CHINESE_ADDRESS(self) -> str:
        z, rng = self.zh, self.rng
        street = z.street_name()
        number = f"{rng.randint(1, 999)}号"
        extra = rng.choice(["", "", f"{rng.randint(1, 30)}栋{rng.randint(1, 3)}单元{rng.randint(101, 2505)}室",
                            f"{rng.randint(1, 20)}号楼{rng.randint(101, 1808)}室", f"{z.building_number()}"])
        district = z.district() + rng.choice(["区", "区", "县"])
        city = z.city_name() + "市"
        r = rng.random()
        if r < 0.55:
            return z.province() + city + district + street + number + extra
        if r < 0.9:
            return city + district + street + number + extra
        return z.province() + city + district + street + number

    # distractors
    def order(self) -> str:
        r = self.rng
        date = f"20{r.randint(20, 26)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}"
        return r.choice(["", "DD", "SO", "NO."]) + date + "".join(r.choice("0123456789") for _ in range(r.choice([6, 8, 10])))

    def amount(self) -> str:
        r = self.rng
        value = r.uniform(1, 2_000_000)
        return r.choice([f"¥{value:,.2f}", f"{value:.2f}元", f"${value:,.2f}", f"{int(value)}元", f"RMB {value:,.0f}"])

    def timestamp(self) -> str:
        r = self.rng
        dt = self.en.date_time_between("-5y", "now")
        return r.choice([dt.strftime("%Y-%m-%d %H:%M:%S"), str(int(dt.timestamp())), str(int(dt.timestamp() * 1000)),
                         dt.strftime("%Y%m%d%H%M%S"), dt.isoformat()])

    def version(self) -> str:
        r = self.rng
        return r.choice([f"v{r.randint(0, 9)}.{r.randint(0, 20)}.{r.randint(0, 30)}",
                         f"{r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 99)}",
                         f"{r.randint(1, 9)}.{r.randint(0, 9)}.{r.randint(0, 9)}.{r.randint(0, 99)}",
                         f"{r.randint(1, 3)}.{r.randint(0, 9)}.{r.randint(0, 9)}-beta{r.randint(1, 5)}"])

    def employee(self) -> str:
        r = self.rng
        return r.choice([f"EMP-{r.randint(1, 99999):05d}", f"A{r.randint(10000, 99999)}", f"{r.randint(100000, 999999)}",
                         f"HR{r.randint(1000, 9999)}", f"E{r.randint(1000, 99999)}"])

    def tracking(self) -> str:
        r = self.rng
        digits = lambda n: "".join(r.choice("0123456789") for _ in range(n))  # noqa: E731
        return r.choice(["SF" + digits(13), "YT" + digits(13), "JD" + digits(13), "75" + digits(12),
                         "JT" + digits(13), "1Z" + digits(16)])

    def badid(self) -> str:
        """18 characters with a valid GB 11643 checksum but an impossible birth date."""
        r = self.rng
        month, day = r.choice([(13, r.randint(1, 28)), (r.randint(1, 12), 32), (2, 30), (0, 10), (4, 31)])
        first = self.zh.ssn()[:6] + f"{r.randint(1950, 2005)}{month:02d}{day:02d}" + f"{r.randint(0, 999):03d}"
        # The checksum is computed here, independently of the code under test.
        total = sum(int(d) * w for d, w in zip(first, (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)))
        return first + "10X98765432"[total % 11]

    def badcard(self) -> str:
        from stdnum import luhn

        r = self.rng
        body = "62" + "".join(r.choice("0123456789") for _ in range(13))
        wrong = str((int(luhn.calc_check_digit(body)) + r.randint(1, 9)) % 10)
        digits = body + wrong
        return " ".join(digits[i:i + 4] for i in range(0, 16, 4)) if r.random() < 0.5 else digits


_SLOT = re.compile(r"\{(~?\w+)\}")
FULL_WIDTH_ENTITIES = ("MOBILE_PHONE", "ID_CARD", "LANDLINE", "BANK_CARD")
FULL_WIDTH_RATE = 0.08
_FULL_WIDTH = str.maketrans("0123456789+", "０１２３４５６７８９＋")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _fill(template: str, values: _Values, sample: Sample, base: int, tight_rate: float) -> str:
    """Render one template into ``sample`` at offset ``base``; returns the rendered text."""
    out: list[str] = []
    pos = 0
    length = 0
    for m in _SLOT.finditer(template):
        literal = template[pos:m.start()]
        out.append(literal)
        length += len(literal)
        slot = m.group(1)
        value = getattr(values, slot.lstrip("~"))()
        if slot in FULL_WIDTH_ENTITIES and values.rng.random() < FULL_WIDTH_RATE:
            value = value.translate(_FULL_WIDTH)  # typed with a Chinese IME in full-width mode
        before = template[m.start() - 1] if m.start() > 0 else ""
        after = template[m.end()] if m.end() < len(template) else ""
        touching = bool(_CJK.match(before) or _CJK.match(after))
        tight = touching and values.rng.random() < tight_rate
        left, right = ("", "") if (tight or not touching) else values.rng.choice(LOOSE)
        if not before or not _CJK.match(before):
            left = ""
        if not after or not _CJK.match(after):
            right = ""
        out.append(left)
        length += len(left)
        start = base + length
        out.append(value)
        length += len(value)
        if slot.startswith("~"):
            sample.distractors.append((start, start + len(value), slot[1:]))
        else:
            sample.labels.append((start, start + len(value), slot))
            sample.tight.append(tight)
        out.append(right)
        length += len(right)
        pos = m.end()
    out.append(template[pos:])
    return "".join(out)


def generate(n: int = 2000, seed: int = 0, *, tight_rate: float = 0.75) -> list[Sample]:
    """``n`` labelled samples; deterministic for a seed. ``tight_rate`` applies to slots next to CJK."""
    values = _Values(seed)
    rng = values.rng
    samples = []
    for _ in range(n):
        sample = Sample("")
        parts: list[str] = []
        base = 0
        pieces = [rng.choice(ZH_TEMPLATES) if rng.random() < 0.75 else rng.choice(EN_TEMPLATES)]
        if rng.random() < 0.5:
            pieces.append(rng.choice(DISTRACTOR_TEMPLATES))
        if rng.random() < 0.35:
            pieces.append(rng.choice(FILLERS))
        rng.shuffle(pieces)
        for i, template in enumerate(pieces):
            if i:
                sep = rng.choice(["。", "；", " ", "\n", "，"])
                parts.append(sep)
                base += len(sep)
            rendered = _fill(template, values, sample, base, tight_rate)
            parts.append(rendered)
            base += len(rendered)
        sample.text = "".join(parts)
        samples.append(sample)
    return samples


def corpus(min_chars: int, seed: int = 0) -> str:
    """Mixed text of at least ``min_chars`` characters built from generated samples (for throughput)."""
    chunks, total, batch = [], 0, 0
    while total < min_chars:
        for s in generate(2000, seed + batch):
            chunks.append(s.text)
            total += len(s.text) + 1
        batch += 1
    return "\n".join(chunks)


# -- scoring ------------------------------------------------------------------------------------

Prediction = tuple[int, int, str]


@dataclass
class EntityScore:
    gold: int = 0
    predicted: int = 0
    true_positive: int = 0  # predictions overlapping a gold value of the entity
    found: int = 0  # gold values overlapped by some prediction of the entity
    exact: int = 0  # gold values predicted with exactly their span
    survived: int = 0  # found gold values whose raw text still appears in the masked sample
    tight_gold: int = 0
    tight_found: int = 0

    @property
    def precision(self) -> float:
        return self.true_positive / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.gold if self.gold else 1.0

    @property
    def exact_rate(self) -> float:
        return self.exact / self.found if self.found else 1.0


@dataclass
class Report:
    entities: dict[str, EntityScore]
    distractors: int
    distractors_untouched: int
    distractor_hits: dict[str, int]

    @property
    def distractor_rate(self) -> float:
        return self.distractors_untouched / self.distractors if self.distractors else 1.0

    def table(self) -> str:
        rows = [f"{'entity':16} {'gold':>5} {'prec':>6} {'recall':>6} {'exact':>6} {'tight-rec':>9} {'survive':>7}"]
        for name, s in self.entities.items():
            if not s.gold and not s.predicted:
                continue
            tight = s.tight_found / s.tight_gold if s.tight_gold else float("nan")
            rows.append(f"{name:16} {s.gold:5d} {s.precision:6.3f} {s.recall:6.3f} {s.exact_rate:6.3f} "
                        f"{tight:9.3f} {s.survived:7d}")
        rows.append(f"distractors untouched: {self.distractors_untouched}/{self.distractors} "
                    f"({self.distractor_rate:.3f}); hits by kind: {self.distractor_hits}")
        return "\n".join(rows)


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def score(samples: Iterable[Sample], predict: Callable[[str], list[Prediction]], *,
          masked: Callable[[str], str] | None = None,
          label_map: dict[str, tuple[str, ...]] | None = None) -> Report:
    """Score ``predict`` (text -> [(start, end, label)]). ``label_map`` maps a predictor's labels to
    the gold entities they stand for (Presidio's PHONE_NUMBER -> MOBILE_PHONE and LANDLINE).
    ``masked`` (text -> masked text) enables the raw-value survival check."""
    stats = {e: EntityScore() for e in ENTITIES}
    distractors = untouched = 0
    hits: dict[str, int] = {}
    for sample in samples:
        preds = predict(sample.text)
        mapped = [(s, e, label_map.get(lab, ()) if label_map else (lab,)) for s, e, lab in preds]
        masked_text = masked(sample.text) if masked else None
        for s, e, ents in mapped:
            for ent in ents:
                if ent not in stats:
                    continue
                st = stats[ent]
                st.predicted += 1
                if any(g_ent == ent and _overlaps((s, e), (gs, ge)) for gs, ge, g_ent in sample.labels):
                    st.true_positive += 1
        for (gs, ge, ent), tight in zip(sample.labels, sample.tight):
            st = stats[ent]
            st.gold += 1
            st.tight_gold += tight
            hit = [(s, e) for s, e, ents in mapped if ent in ents and _overlaps((s, e), (gs, ge))]
            if hit:
                st.found += 1
                st.tight_found += tight
                st.exact += (gs, ge) in hit
                if masked_text is not None and sample.text[gs:ge] in masked_text:
                    st.survived += 1
        for ds, de, kind in sample.distractors:
            distractors += 1
            if any(_overlaps((s, e), (ds, de)) for s, e, _ in mapped):
                hits[kind] = hits.get(kind, 0) + 1
            else:
                untouched += 1
    return Report(stats, distractors, untouched, hits)


def dms_magic_predict(rule: str = "All") -> Callable[[str], list[Prediction]]:
    from dms_magic.masking import detect

    return lambda text: [(d.start, d.end, d.entity) for d in detect(text, rule)]


def dms_magic_masked(rule: str = "All") -> Callable[[str], str]:
    from dms_magic.masking import mask

    return lambda text: mask(text, rule).text


def main(argv: list[str]) -> None:
    n = int(argv[1]) if len(argv) > 1 else 3000
    seed = int(argv[2]) if len(argv) > 2 else 0
    samples = generate(n, seed)
    tight = sum(t for s in samples for t in s.tight) / max(1, sum(len(s.tight) for s in samples))
    print(f"{n} samples, seed {seed}, {tight:.0%} of values touch CJK with no space")
    print(score(samples, dms_magic_predict(), masked=dms_magic_masked()).table())


if __name__ == "__main__":
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout
    main(sys.argv)
