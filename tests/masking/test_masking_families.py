"""The ways real people write personal data that a cue-right-before-the-value engine misses (issue 16).

Each family has examples written for these tests (not taken from any evaluation corpus) and
distractors of the same shape that must stay untouched.
"""
from __future__ import annotations

import pytest
from stdnum import luhn

from dms_magic.masking import detect, mask, mask_messages, rule_counts, suggest_rule
from dms_magic.masking import validators as v


def found(text: str, rule: str = "All") -> list[tuple[str, str]]:
    return [(d.entity, text[d.start:d.end]) for d in detect(text, rule)]


def entities_of(text: str, value: str, rule: str = "All") -> set[str]:
    """Entities of the detections that overlap ``value`` in ``text``."""
    start = text.index(value)
    end = start + len(value)
    return {d.entity for d in detect(text, rule) if d.start < end and start < d.end}


def _valid_id(prefix6: str = "110101", birth: str = "19900307") -> str:
    first = prefix6 + birth + "123"
    return first + v.id_check_char(first)


def _unionpay(body15: str = "622202123456789") -> str:
    return body15 + luhn.calc_check_digit(body15)


def _uscc() -> str:
    from stdnum.cn import uscc

    org = "MA2D3F4G"
    org += "0123456789X0"[11 - sum(int(c, 36) * w for c, w in zip(org, (3, 7, 9, 10, 5, 8, 4, 2))) % 11]
    body = "91" + "330106" + org
    code = body + uscc.calc_check_digit(body)
    assert v.uscc(code), "premise: a valid credit code"
    return code


# -- 1. a value glued to a Latin cue word --------------------------------------------------------

@pytest.mark.parametrize("text, value, entity", [
    ("客户mobile13912345678请回电", "13912345678", "MOBILE_PHONE"),
    ("已封禁IP10.20.30.40的访问", "10.20.30.40", "IPV4"),
    ("登录来源client_ip172.16.8.9", "172.16.8.9", "IPV4"),
    (f"退款到card{_unionpay()}即可", _unionpay(), "BANK_CARD"),
    (f"CardNo{_unionpay()}", _unionpay(), "BANK_CARD"),
    ("出境用passportE23456789办理", "E23456789", "PASSPORT"),
    ("办公室tel010-62345678找前台", "010-62345678", "LANDLINE"),
    ("海外同事Tel+852 9123 4567", "+852 9123 4567", "PHONE_NUMBER"),
    (f"核对id_card{_valid_id()}无误", _valid_id(), "ID_CARD"),
    ("网卡MAC3C:22:FB:01:9A:7E被拦截", "3C:22:FB:01:9A:7E", "MAC_ADDRESS"),
    ("新地址IPv62001:db8:85a3::8a2e:370:7334已分配", "2001:db8:85a3::8a2e:370:7334", "IPV6"),
])
def test_a_known_latin_cue_glued_before_a_value_lets_it_be_found(text, value, entity):
    assert entity in entities_of(text, value), found(text)


@pytest.mark.parametrize("text", [
    "顺丰单号SF123456789012已签收",
    "订单ORD20240101123456已发货",
    f"发票INV{_unionpay()}已开具",  # a card-shaped tail inside an invoice number
    "工单TK13912345678处理中",  # a mobile-shaped tail inside a ticket number
    "trace_idAB10.20.30.40x",
    "已发布v1.2.3.4版本",
    "运单JD0012345678901已揽收",
])
def test_identifiers_with_a_latin_prefix_stay_untouched(text):
    assert found(text) == []


# -- 2. key: value, key:value, tables, CSV, JSON ---------------------------------------------------

@pytest.mark.parametrize("text, value, entity", [
    ("备注:2001:db8::1", "2001:db8::1", "IPV6"),
    ("inet6:fe80::1ff:fe23:4567:890a up", "fe80::1ff:fe23:4567:890a", "IPV6"),
    ("mac:00-1A-2B-3C-4D-5E", "00-1A-2B-3C-4D-5E", "MAC_ADDRESS"),
    ('{"手机": "13912345678", "city": "杭州"}', "13912345678", "MOBILE_PHONE"),
    ('{"name": "Zhang Wei", "age": 30}', "Zhang Wei", "ENGLISH_NAME"),
    ('{"contact":"刘晓燕"}', "刘晓燕", "CHINESE_NAME"),
    ("护照号码：G12345678", "G12345678", "PASSPORT"),
    ("passport,city\n123456789,Boston\n", "123456789", "PASSPORT"),
    ("| 客户 | 张伟 |\n| 电话 | 13912345678 |", "张伟", "CHINESE_NAME"),
    ("| 姓名 | 部门 |\n|---|---|\n| 周子墨 | 研发部 |", "周子墨", "CHINESE_NAME"),
    ("name,dept\nEmily Carter,Sales\n", "Emily Carter", "ENGLISH_NAME"),
    ("姓名,手机\n孙立伟,13912345678\n", "孙立伟", "CHINESE_NAME"),
    ("level=INFO user=登录 name=韩梅梅 ok", "韩梅梅", "CHINESE_NAME"),
    ("Contact: Oliver Bennett\nPhone: 555", "Oliver Bennett", "ENGLISH_NAME"),
    ("From: Grace Turner <grace@example.org>", "Grace Turner", "ENGLISH_NAME"),
    ("Assignee: Lucas Reed", "Lucas Reed", "ENGLISH_NAME"),
    ("[09:41] 黄晓明: 我明天到", "黄晓明", "CHINESE_NAME"),
    ("[09:42] Nora Fields: see you", "Nora Fields", "ENGLISH_NAME"),
    ("客户的Name吴晓东已登记", "吴晓东", "CHINESE_NAME"),
    ("Best regards,\nHannah Price", "Hannah Price", "ENGLISH_NAME"),
    ("地址 : 西湖区文三路477号", "西湖区文三路477号", "CHINESE_ADDRESS"),
    ("会议由Maria Lopez主持", "Maria Lopez", "ENGLISH_NAME"),
    ("本次会议由赖峰主持", "赖峰", "CHINESE_NAME"),
    ("Please ask 王芳 to call back", "王芳", "CHINESE_NAME"),
    ("Quentin Ashford called about the refund.", "Quentin Ashford", "ENGLISH_NAME"),
    ("I spoke with Imogen Castellanos yesterday.", "Imogen Castellanos", "ENGLISH_NAME"),
    ("抄送：Tobias Wren", "Tobias Wren", "ENGLISH_NAME"),
    ('{"address": "南山区科技园路18号"}', "南山区科技园路18号", "CHINESE_ADDRESS"),
])
def test_labels_of_forms_tables_and_json_act_as_cues(text, value, entity):
    assert entity in entities_of(text, value), found(text)


@pytest.mark.parametrize("text", [
    '{"name": "Data Pipeline", "version": "3.2"}',
    "Product Name: Apple Watch",
    "hostname: Web Server",
    "| name | version |\n|---|---|\n| Kafka Connect | 3.2 |",
    "city,name\nBeijing,Great Wall\n",
    "| 产品名称 | 王者荣耀 |",
    "| 姓名 | 部门 |\n|---|---|",  # a header row names columns, it holds no name
    "编号,备注\n123456789,无\n",  # nine digits under a column that is not a passport
    "时间 12:30:45，比例 1:2:3，端口:8080",
    "我在Hong Kong工作，用Visual Studio Code打开",
    "New York is big and Google Cloud will be down",
    "通过Jira Service Desk提交",
    "sent by 高铁 today, from 上海 to 深圳",
    "银行卡号见附件；快递单号75648870916620已签收",  # a Luhn-valid tracking number near a card word
])
def test_labels_naming_things_stay_untouched(text):
    assert found(text) == []


# -- 3. cue-backed landlines -----------------------------------------------------------------------

def test_a_landline_that_does_not_fit_its_area_code_is_masked_next_to_a_phone_cue():
    number = "0571-1234567"  # Hangzhou numbers have 8 digits and never start with 1
    assert not v.cn_landline(number), "premise: phonenumbers rejects this number"
    for cue in ("座机", "办公电话：", "tel:", "电话 "):
        text = f"{cue}{number}"
        assert entities_of(text, number) == {"LANDLINE"}, (cue, found(text))
        assert "1234567" not in mask(text).text
    assert found(f"批次号{number}已入库") == []  # no phone cue: an identifier, not a number
    assert found("电话 6232 0571 1606 0784 无效") == []  # a piece of a longer digit run


@pytest.mark.parametrize("text, value", [
    ("座机 +86 10 6234 5678", "+86 10 6234 5678"),
    ("办公电话(021)6234-5678", "(021)6234-5678"),
    ("Office: 0755-8888 6666转123", "0755-8888 6666转123"),
])
def test_landlines_in_their_usual_written_forms(text, value):
    assert "LANDLINE" in entities_of(text, value), found(text)


@pytest.mark.parametrize("text, value", [
    ("联系 +86 755 2688372 谢谢", "+86 755 2688372"),  # +86 is the cue; the local part is one digit short
    ("编号 8843 2210 +86-21 6234 5678 已回访", "+86-21 6234 5678"),  # a + starts its own number
    ("订单 202405061234567 0755-26883721 已回访", "0755-26883721"),  # a long number before is a neighbour
    ("座机: 0755-2688372 2001:db8::5", "0755-2688372"),  # 2001:db8 is an address, not a digit group
    ("客户;座机;备注\n王先生;0755-2688372转802;回访", "0755-2688372转802"),  # ; CSV, header cue, extension
    ("id,金额,电话\n7,1,250,000.00,0755 268 8372", "0755 268 8372"),  # unquoted 1,250,000.00 shifts cells
])
def test_landlines_written_with_86_in_csv_columns_and_next_to_other_numbers(text, value):
    assert "LANDLINE" in entities_of(text, value), found(text)
    assert value not in mask(text).text


@pytest.mark.parametrize("text, value", [
    ("请拨intl+44 20 7946 0958 找前台", "+44 20 7946 0958"),
    ("备用intl:+49 30 901820。", "+49 30 901820"),
    ("a,b,+81 3-1234-5678,c", "+81 3-1234-5678"),
    ("编号 123 +33 1 42 68 53 00", "+33 1 42 68 53 00"),
    ("name,phone,city\nAnn,+44 7911 1234567,York", "+44 7911 1234567"),  # too long for the UK, but a phone column
])
def test_international_numbers_glued_to_a_word_or_a_cell(text, value):
    assert entities_of(text, value) == {"PHONE_NUMBER"}, found(text)
    assert value not in mask(text).text


@pytest.mark.parametrize("text, value", [
    ("地址addr6fe80::2a1 已分配", "fe80::2a1"),  # fe80 is a whole group: the word ends at the 6
    ("新的v6dead:beef::7。", "dead:beef::7"),
    ("网关ipv62408:8207:1850::2b", "2408:8207:1850::2b"),
    ("核对inet6:2408:8207:1850::2b；", "2408:8207:1850::2b"),  # the 6 of the label is not a group
    ("hostab12:34::5 up", "ab12:34::5"),
    ("srv:fe80::9 down", "fe80::9"),  # a word before its colon is a label, not a group
    ("src:fe80::9 down", "fe80::9"),
    ("v6:2001:db8:0:1:2:3:4:5\n", "2001:db8:0:1:2:3:4:5"),
])
def test_ipv6_glued_to_any_latin_word_starts_at_a_group_boundary(text, value):
    assert ("IPV6", value) in found(text), found(text)
    assert value not in mask(text).text


@pytest.mark.parametrize("text", [
    "调用 Config::Load 和 std::map::find",
    "at12:30:45 on 2024-03-05T08:15:30.250Z",
    "运单SF123456789012已签收",
    "订单号 20240506123456789 已发货",
    "版本 2.3.1.0 已发布",
    "commit 3f2a9c1b7e8d 已合并",
    "ORD202405061234 0755",
])
def test_distractors_stay_untouched_by_glued_addresses_and_numbers(text):
    assert found(text) == []


# -- 4. an 18-digit ID that also passes Luhn -------------------------------------------------------

def _id_passing_luhn(prefix6: str) -> str:
    for day in range(1, 29):
        for seq in range(1000):
            first = f"{prefix6}198501{day:02d}{seq:03d}"
            ident = first + v.id_check_char(first)
            if ident[-1] != "X" and luhn.is_valid(ident):
                return ident
    raise AssertionError("unreachable")


@pytest.mark.parametrize("prefix6", ["620102", "650102", "110101"])
def test_an_id_number_passing_luhn_is_an_id_card_never_a_bank_card(prefix6):
    ident = _id_passing_luhn(prefix6)  # 62/65: Gansu and Xinjiang share UnionPay/Discover prefixes
    for text in (f"身份证{ident}", f"证件号 {ident[:6]} {ident[6:14]} {ident[14:]}"):
        value = text.split("证")[-1].lstrip("件号 ")
        assert entities_of(text, value, "All") == {"ID_CARD"}, found(text)
        assert found(text, "Finance") == [], "Finance masks cards, and an ID is not one"


# -- engine side of "say when nothing was masked" -------------------------------------------------

def test_rule_counts_match_mask_and_suggest_rule_names_one_that_would_mask():
    ident = _valid_id()
    text = f"我叫王建华，手机13912345678，身份证{ident}"
    counts = rule_counts(text)
    for rule in ("UserInfo", "Finance", "Identity", "Contact"):
        assert counts[rule] == len(mask(text, rule).entities), rule
    assert counts["Finance"] == 0 and counts["UserInfo"] == 3
    assert suggest_rule(text, exclude="Finance") == "UserInfo"
    assert suggest_rule("今天天气不错", exclude="Finance") is None
    uscc = _uscc()
    assert suggest_rule(f"信用代码{uscc}", exclude="UserInfo") == "Enterprise"  # the most specific rule


def test_rule_counts_accept_messages_and_mask_messages_counts_are_per_entity():
    messages = [{"role": "user", "content": "手机13912345678"}, {"role": "user", "content": "邮箱 a@b.cn"}]
    assert rule_counts(messages)["Contact"] == 2
    assert mask_messages(messages, "Contact").counts() == {"MOBILE_PHONE": 1, "EMAIL": 1}
    with pytest.raises(TypeError, match="messages\\[0\\]"):
        rule_counts([{"role": "user"}])


# -- the compact dictionary segments like jieba's own ---------------------------------------------

def test_compact_dictionary_segments_windows_exactly_like_jieba():
    import jieba

    from dms_magic.masking.wordfreq import MAX_WORD, tokenizer_and_tags

    compact, tags = tokenizer_and_tags()
    reference = jieba.Tokenizer()
    reference.initialize()
    text = ("我们的客户王建华昨天在北京市海淀区办理了业务，联系人李晓梅说方案明确可行，"
            "高度重视数据安全。张伟和陈默一起去了石家庄出差，钱淑珍负责报销流程审批。")
    for i in range(len(text)):
        window = text[i:i + MAX_WORD - 1]
        assert list(compact.cut(window, HMM=True)) == list(reference.cut(window, HMM=True)), window
    for word in ("客户", "高度", "王建华", "石家庄"):
        assert compact.FREQ.get(word) == reference.FREQ.get(word), word
