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
