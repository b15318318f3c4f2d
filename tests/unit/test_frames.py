"""usage and logprobs DataFrames: columns, dtypes, the tidy alternatives form."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from dms_magic.views.frames import alternatives_frame, logprobs_frame, usage_frame

CONTENT = [
    {"token": "你", "logprob": -0.1, "bytes": [228, 189, 160],
     "top_logprobs": [{"token": "你", "logprob": -0.1}, {"token": "您", "logprob": -2.5}]},
    {"token": "好", "logprob": "-0.2", "bytes": [229, 165, 189],
     "top_logprobs": [{"token": "好", "logprob": -0.2}, {"token": "们", "logprob": "-1.9"}]},
    {"token": "!", "logprob": None, "bytes": None, "top_logprobs": []},
]


def test_logprobs_frame_one_row_per_token_with_documented_columns():
    df = logprobs_frame({"content": CONTENT})
    assert list(df.columns) == ["position", "token", "logprob", "prob", "bytes", "top_logprobs"]
    assert df["position"].tolist() == [0, 1, 2] and df["token"].tolist() == ["你", "好", "!"]
    assert df["logprob"].dtype == "float64" and df.loc[1, "logprob"] == -0.2 and math.isnan(df.loc[2, "logprob"])
    assert df.loc[0, "prob"] == pytest.approx(math.exp(-0.1))
    assert df.loc[0, "bytes"] == [228, 189, 160]
    # the alternatives as the service sent them (DashScope's dicts, most likely first)
    assert df.loc[1, "top_logprobs"] == CONTENT[1]["top_logprobs"]
    assert df.loc[2, "top_logprobs"] == []


def test_alternatives_frame_is_tidy_one_row_per_position_and_rank():
    alt = alternatives_frame(CONTENT)
    assert list(alt.columns) == ["position", "rank", "token", "logprob", "prob", "chosen"]
    assert alt[["position", "rank"]].values.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert alt["token"].tolist() == ["你", "您", "好", "们"]
    assert alt["chosen"].tolist() == [True, False, True, False]
    assert alt["logprob"].tolist() == [-0.1, -2.5, -0.2, -1.9]
    # the same alternatives as the list column of logprobs_frame, one row each
    exploded = logprobs_frame(CONTENT).explode("top_logprobs").dropna(subset=["top_logprobs"])
    assert [a["token"] for a in exploded["top_logprobs"]] == alt["token"].tolist()
    assert exploded["position"].tolist() == alt["position"].tolist()


@pytest.mark.parametrize("nothing", [None, [], {}, {"content": []}], ids=repr)
def test_empty_logprobs_give_empty_frames_with_the_columns(nothing):
    df = logprobs_frame(nothing)
    assert df.empty and list(df.columns) == ["position", "token", "logprob", "prob", "bytes", "top_logprobs"]
    alt = alternatives_frame(nothing)
    assert alt.empty and list(alt.columns) == ["position", "rank", "token", "logprob", "prob", "chosen"]


def test_usage_frame_has_integer_counts_and_flattened_details():
    df = usage_frame({"PromptTokens": "9", "CompletionTokens": "10", "TotalTokens": "19",
                      "PromptTokensDetails": {"CachedTokens": "4"}})
    assert len(df) == 1
    assert list(df.columns)[:3] == ["prompt_tokens", "completion_tokens", "total_tokens"]
    assert df.loc[0, ["prompt_tokens", "completion_tokens", "total_tokens"]].tolist() == [9, 10, 19]
    assert all(pd.api.types.is_integer_dtype(df[c]) for c in df.columns)
    assert df.loc[0, "prompt_tokens_details.cached_tokens"] == 4


def test_usage_frame_when_nothing_was_reported():
    df = usage_frame(None)
    assert list(df.columns) == ["prompt_tokens", "completion_tokens", "total_tokens"] and df.isna().all(axis=None)


def test_an_item_shaped_unlike_the_first_is_still_read():
    # First and last items canonical, one in the middle in PascalCase with string numbers.
    content = [CONTENT[0], {"Token": "好", "Logprob": "-0.2", "TopLogprobs": [{"Token": "们", "Logprob": "-1.9"}]},
               CONTENT[0]]
    df = logprobs_frame(content)
    assert df["token"].tolist() == ["你", "好", "你"] and df.loc[1, "logprob"] == -0.2
    assert [(a["token"], a["logprob"]) for a in df.loc[1, "top_logprobs"]] == [("们", "-1.9")]  # key case fixed


def test_junk_in_place_of_the_alternatives_list_reads_as_no_alternatives():
    content = [CONTENT[0], {"token": "好", "logprob": -0.2, "bytes": None, "top_logprobs": 5},
               {"token": "!", "logprob": -0.3, "top_logprobs": ["not a dict", {"token": "?", "logprob": -1.0}]}]
    df = logprobs_frame(content)
    assert df["token"].tolist() == ["你", "好", "!"]
    assert df.loc[1, "top_logprobs"] == [] and [a["token"] for a in df.loc[2, "top_logprobs"]] == ["?"]
    assert alternatives_frame(content)["token"].tolist() == ["你", "您", "?"]
    # junk between well-shaped first and last items is caught too
    middle = {"token": "好", "logprob": -0.2, "bytes": None, "top_logprobs": None}
    df = logprobs_frame([CONTENT[0], middle, CONTENT[0]])
    assert df["top_logprobs"].map(len).tolist() == [2, 0, 2]


def test_alternatives_frame_reads_items_shaped_unlike_the_first():
    content = [CONTENT[0], {"Token": "好", "Logprob": "-0.2", "TopLogprobs": [{"Token": "们", "Logprob": "-1.9"}]},
               CONTENT[0]]
    alt = alternatives_frame(content)
    assert alt[alt["position"] == 1][["rank", "token", "logprob"]].values.tolist() == [[0, "们", -1.9]]
    assert alt["rank"].tolist() == [0, 1, 0, 0, 1]


def test_odd_case_alternatives_in_a_middle_item_are_read():
    # Normal outer keys, PascalCase keys inside top_logprobs, between canonical first and last items.
    middle = {"token": "b", "logprob": -0.1, "bytes": [98], "top_logprobs": [{"Token": "b", "Logprob": -0.1}]}
    alt = alternatives_frame([CONTENT[0], middle, CONTENT[1]])
    assert alt[alt["position"] == 1][["rank", "token", "logprob", "chosen"]].values.tolist() == [[0, "b", -0.1, True]]
    assert alt["position"].tolist() == [0, 0, 1, 2, 2]
