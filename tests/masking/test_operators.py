"""Masking operators on their own: exact rounding, date layouts, operator spec validation."""
from __future__ import annotations

import pytest

from dms_magic.masking.operators import round_date, round_number


@pytest.mark.parametrize("value, step, expected", [
    ("0.3", 0.1, "0.3"),  # float floor division gave 0.2
    ("3.7", 0.1, "3.7"),
    ("1.15", 0.05, "1.15"),
    ("3.75", 0.1, "3.7"),
    ("12345", 100, "12300"),
    ("12,345", 100, "12,300"),  # thousands separators stay when the input had them
    ("收入 1,234,567.89 元", 1000, "收入 1,234,000 元"),
    ("12,345.67", 0.1, "12,345.6"),
    ("7", 0.5, "7.0"),  # as many decimals as the step
    ("1,2,3", 1, "1,2,3"),  # a list of numbers is not one grouped number
    ("123456789012345678901234567890123456789", 7, "123456789012345678901234567890123456788"),
])
def test_round_number_is_exact_and_keeps_the_layout(value, step, expected):
    assert round_number(value, step) == expected


@pytest.mark.parametrize("value, step, expected", [
    ("-3.7", 1, "-4"),  # down, as for positives (3.7 -> 3), and the sign stays
    ("-3.2", 1, "-4"),
    ("-3", 1, "-3"),
    ("-0.3", 0.1, "-0.3"),  # exact, as for positives
    ("-3.75", 0.1, "-3.8"),
    ("-0.05", 0.1, "-0.1"),
    ("-12,345", 100, "-12,400"),
    ("-999", 1000, "-1000"),  # one more digit than the input
    ("余额 -1,234,567.89 元", 1000, "余额 -1,235,000 元"),
    ("(-5.5)", 1, "(-6)"),
    ("－３.７", 1, "－4"),  # a full-width minus is a minus too, written as it was
    ("-0", 1, "0"),
    ("10-3.5", 1, "10-3"),  # a dash between numbers is not a sign: 010-1234 stays a phone-like layout
    ("A-3.5", 1, "A-3"),
    ("123456789012345678901234567890123456789.5", 7, "123456789012345678901234567890123456788"),
    ("-123456789012345678901234567890123456789.5", 7, "-123456789012345678901234567890123456795"),
])
def test_round_number_rounds_negative_numbers_down_and_keeps_the_sign(value, step, expected):
    assert round_number(value, step) == expected


@pytest.mark.parametrize("value, unit, expected", [
    ("1990-03-07", "month", "1990-03-01"),
    ("1990-03-07", "year", "1990-01-01"),
    ("2023-7-15", "year", "2023-1-1"),  # unpadded dates stay unpadded
    ("2023-7-15", "month", "2023-7-1"),
    ("1990年3月7日", "year", "1990年1月1日"),
    ("生于2023/12/25", "year", "生于2023/01/01"),
    ("20230715", "month", "20230701"),
])
def test_round_date_keeps_the_layout(value, unit, expected):
    assert round_date(value, unit) == expected
