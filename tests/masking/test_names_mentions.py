"""Names as the world writes them (issue 22, families 1 and 2): every mention of a detected value,
and person names without a cue. The examples were written for these tests; each family has
distractors of the same shape that must stay untouched."""
from __future__ import annotations

import json

import pytest

from dms_magic.masking import MaskingSession, detect, mask, mask_messages, rule_counts

PSEUDONYMS = {"operators": {"CHINESE_NAME": {"type": "pseudonym"}, "ENGLISH_NAME": {"type": "pseudonym"}}}


def names_in(text: str) -> list[str]:
    return [text[d.start:d.end] for d in detect(text) if d.entity.endswith("_NAME")]


# -- 1. every mention ---------------------------------------------------------------------------

def test_a_repeated_chinese_name_is_masked_every_time_with_the_same_replacement():
    text = "苏婉清的手机号是13912345678。苏婉清近期出现失眠，婉清说晚上睡不着。"
    out = mask(text)
    assert "苏婉清" not in out.text and "婉清" not in out.text
    masked = {s.masked for s in out.entities if s.entity == "CHINESE_NAME"}
    assert masked == {"苏**"}, out.entities  # the given name alone gets the full name's replacement
    assert [s.original for s in out.entities if s.entity == "CHINESE_NAME"] == ["苏婉清", "苏婉清", "婉清"]


def test_an_english_given_name_or_surname_alone_is_a_mention_once_the_full_name_was_found():
    text = ("Corinne Mayfield is a 38-year-old nurse. Last spring, Corinne moved to Ohio, "
            "and MAYFIELD still pays rent on the old flat.")
    out = mask(text, config=PSEUDONYMS)
    assert out.text == ("<ENGLISH_NAME_1> is a 38-year-old nurse. Last spring, <ENGLISH_NAME_1> moved to Ohio, "
                        "and <ENGLISH_NAME_1> still pays rent on the old flat.")
    # with the default operator every mention shows the full name's mask, never a part of the name
    assert mask(text).text.count("C***") == 3 and "Corinne" not in mask(text).text


def test_a_part_alone_is_no_mention_without_the_full_name_nor_inside_another_word():
    # the surname-like word alone is no mention ("the Mayfield account"); the given name doing
    # something at the start of the sentence is a person on its own (the one-word name finder)
    assert names_in("Corinne said the Mayfield account is closed.") == ["Corinne"]
    assert names_in("The Mayfield account is closed.") == []
    text = "Dana Whitfield called. Danaher and Whitfields Ltd are companies; dana is lower case."
    out = mask(text)
    assert out.text == "D*** called. Danaher and Whitfields Ltd are companies; dana is lower case."


def test_a_part_in_lower_case_is_a_mention_only_when_the_person_does_something():
    text = "Patient: Tom Ashworth. Later ashworth phoned twice; tom ashworth is here. brown is a colour."
    out = mask(text, config=PSEUDONYMS)
    assert out.text == ("Patient: <ENGLISH_NAME_1>. Later <ENGLISH_NAME_1> phoned twice; <ENGLISH_NAME_1> is here. "
                        "brown is a colour.")
    # a lower-case part after a determiner is a word, even before a verb
    assert mask("Client: Lee Brown. The brown said nothing.").text == "Client: L***. The brown said nothing."


def test_a_given_name_that_is_a_word_is_a_mention_only_with_a_persons_context():
    text = "Will Turner is a 52-year-old pilot. Will you call him? Later Will said yes. Will's car is red."
    out = mask(text, config=PSEUDONYMS)
    assert out.text == ("<ENGLISH_NAME_1> is a 52-year-old pilot. Will you call him? Later <ENGLISH_NAME_1> said "
                        "yes. <ENGLISH_NAME_1>'s car is red.")


def test_a_chinese_name_that_is_a_common_word_is_not_spread_over_the_text():
    out = mask("客户高明来电。这个办法很高明。")
    assert out.text == "客户高*来电。这个办法很高明。"
    # nor is a given name that is a word (建国 of 王建国): 建国门 stays a place
    assert mask("客户王建国来电，地点在建国门。").text == "客户王**来电，地点在建国门。"


def test_mentions_cross_the_messages_of_a_request_with_one_pseudonym_each():
    messages = [{"role": "system", "content": "联系人：钟慧敏，手机13812345678"},
                {"role": "user", "content": "钟慧敏昨天没接电话，13812345678 打不通"},
                {"role": "assistant", "content": "Noted: Priya Raman is a 29-year-old analyst."},
                {"role": "user", "content": "Ask Priya and Ms. Raman to call 钟慧敏."}]
    out = mask_messages(messages, config=PSEUDONYMS, session=MaskingSession(seed=1))
    assert [m["content"] for m in out] == [
        "联系人：<CHINESE_NAME_1>，手机138****5678",
        "<CHINESE_NAME_1>昨天没接电话，138****5678 打不通",
        "Noted: <ENGLISH_NAME_1> is a 29-year-old analyst.",
        "Ask <ENGLISH_NAME_1> and Ms. <ENGLISH_NAME_1> to call <CHINESE_NAME_1>."]
    assert sum(rule_counts(messages).values()) >= len(out.entities)
    assert rule_counts(messages)["UserInfo"] == len(out.entities)


def test_a_phone_written_again_in_another_layout_is_a_mention_and_other_digits_are_not():
    messages = [{"role": "user", "content": "Office: +44 20 7946 0018, mobile (415) 555-0142."},
                {"role": "user", "content": "Again: 0044 20 7946 0018 and 415 555 0142; invoice 94155550142, "
                                            "order 4155550142999, 415 555 01423."}]
    out = mask_messages(messages)
    assert [(i, s.original) for i, s in out.entities if i == 1] == [(1, "0044 20 7946 0018"), (1, "415 555 0142")]
    assert out[1]["content"].startswith("Again: ") and "94155550142" in out[1]["content"]
    assert {s.masked for _, s in out.entities if s.original.endswith("0142")} == {"(***) ***-0142"}


def test_a_random_operator_gives_every_mention_the_same_replacement():
    config = {"operators": {"MOBILE_PHONE": {"type": "random"}}}
    out = mask("手机13812345678，再说一遍：13812345678", config=config, session=MaskingSession(seed=3)).text
    first, second = out[2:13], out[-11:]
    assert first == second and first != "13812345678"


def test_the_sandbox_masks_mentions_across_messages(sandbox, client_for):
    """Over real HTTP: the second message names the patient with no cue at all."""
    messages = [{"role": "user", "content": "患者：钟慧敏，女，42岁"},
                {"role": "assistant", "content": "好的"},
                {"role": "user", "content": "请为钟慧敏写一份随访提醒"}]
    with client_for(sandbox) as client:
        reply = client.chat(messages, need_desensitization=True, desensitization_rule="UserInfo", max_tokens=4)
    seen = [e for e in sandbox.received if e["request_id"] == reply.request_id][0]["model_input"]
    assert "钟慧敏" not in json.dumps(seen, ensure_ascii=False)
    assert seen[-1]["content"] == "请为钟**写一份随访提醒"


# -- 2. names without a cue ---------------------------------------------------------------------

@pytest.mark.parametrize("text, name", [
    ("孟书瑶年收入为42万元，名下有一套房产。", "孟书瑶"),
    ("体检报告已出。韩志远今年四十岁，血压偏高。", "韩志远"),
    ("主治医师钟慧敏为其开具了处方。", "钟慧敏"),
    ("经石文博医生诊断，患者患有高血压。", "石文博"),
    ("护士长罗佳怡负责夜间护理。", "罗佳怡"),
    ("玛格丽特·米切尔医生建议她多休息。", "玛格丽特·米切尔"),
    ("让·雷诺主演了这部电影。", "让·雷诺"),
    ("医生嘱咐后，提醒邵雨桐按时复查。", "邵雨桐"),  # a pivot verb before, a verb after
    ("【门诊记录】付晓岚因发热就诊。", "付晓岚"),  # right after a 【header】
    ("收件人：曾黎，电话另告。", "曾黎"),  # a word-like surname (曾) in a name slot
    ("客户曾志伟来电。", "曾志伟"),  # ... with given-name characters
    ("寄件：何畅, 明早送达", "何畅"),  # ... filling a field
    # whole names where jieba's segmentation cuts them: 梅因 / 兰因 take the last character, the HMM
    # glues 查 on (潘玉华查) or the title on (杨医生), a cue character makes a word with the surname (经史)
    ("【门诊记录】徐雪梅因头晕乏力就诊。", "徐雪梅"),
    ("患者杨淑兰因关节疼痛就诊。", "杨淑兰"),
    ("主治医师潘玉华查体后开药。", "潘玉华"),
    ("经余杨医生诊断，建议休息。", "余杨"),
    ("经史洁医生诊断，建议休息。", "史洁"),
    ("接诊医生卡特琳娜·约翰逊为其开具了药物。", "卡特琳娜·约翰逊"),  # 逊 ends the last part
])
def test_chinese_names_by_position_role_and_interpunct(text, name):
    assert name in names_in(text), detect(text)


@pytest.mark.parametrize("text, name", [
    ("Priya Raman is a 29-year-old analyst from Leeds.", "Priya Raman"),
    ("Thandiwe Okonkwo is a 45-year-old nurse.", "Thandiwe Okonkwo"),
    ("He was referred by his physician, Dr. Ivy Chen, last week.", "Ivy Chen"),
    ("Her lawyer, Mateo Alvarez, declined to comment.", "Mateo Alvarez"),
    ("Amruta de León visited the clinic in March.", "Amruta de León"),
    ("Rubén Ibáñez's phone number changed.", "Rubén Ibáñez"),
    ("Please ask Kenny Rogers for the quote.", "Kenny Rogers"),  # a surname ending like a firm (Traders)
    ("The lease is signed. nadia morales is the tenant.", "nadia morales"),  # lower case, opening a sentence
    ("Referred to dr. samuel okafor for a scan.", "samuel okafor"),  # lower case after a title
    ("Visit note. megan haynes presented with a cough.", "megan haynes"),  # a clinical verb after
    ("Patient gRETA lINDQVIST called twice.", "gRETA lINDQVIST"),
    ("ADMITTED: GRETA LINDQVIST was admitted on Monday.", "GRETA LINDQVIST"),
])
def test_english_names_by_lexicon_position_role_and_odd_capitals(text, name):
    assert name in names_in(text), detect(text)


@pytest.mark.parametrize("text", [
    "今天很高兴见到大家。", "黄金价格上涨了百分之三。", "王国的历史很长。", "高度重视数据安全。", "方便的话请回电。",
    "周末去公园散步。", "马上就到。", "白天气温较高。", "石家庄的天气不错。", "许多人参加了会议。", "朱红色的大门很显眼。",
    "雷雨天气请勿外出。", "建议高度重视安全生产。", "他曾任职于本行，现任主管。", "护士查房后记录体温。",
    "无境外永久居留权。", "大家一起包粽子。", "曾任成都人民商场经理。", "省内商行中都列首位。", "公司任副总经理。", "要求全体员工参加培训。", "安排车辆接送。", "【公告】周末照常营业。",
    "中国·杭州国际会议召开。", "阿里巴巴·西溪园区开放参观。", "2024·春季新品发布。",
    "May is a good month for travel.", "Will you come tomorrow?", "Grace period ends on Monday.",
    "Bill of lading attached.", "Morgan Stanley reported earnings.", "We walked along the Santa Monica Pier.",
    "General Electric makes turbines.", "She moved to Austin, Texas.", "Summer Sale starts now.",
    "Happy Birthday to you.", "The Rose Garden opens at nine.", "Victoria Harbour at night.",
    "ANNUAL REPORT 2024", "CHASE BANK STATEMENT", "Apple Watch Series 9",
    "please ask for the quote. ray tracing is on.", "the tenant, nadia, is kind.", "jean jackets are back.",
    "Please ask Contoso Electronics for a quote.", "Thanks Fabrikam Supplies for the samples.",
])
def test_distractors_that_look_like_names_stay_untouched(text):
    assert mask(text).text == text, detect(text)
