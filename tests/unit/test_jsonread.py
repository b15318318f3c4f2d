"""wire/jsonread: the one depth-limited JSON reader (issue 23 items 4 and 13)."""
from __future__ import annotations

import math

import pytest

from dms_magic.wire import jsonread

DEEP = "[" * 5000 + "]" * 5000


def test_the_reader_limits_depth_and_refuses_non_finite_numbers_when_asked():
    assert jsonread.loads("[" * 64 + "]" * 64) is not None
    for text in ("[" * 65 + "]" * 65, '{"a":' * 65 + "1" + "}" * 65, DEEP, b"[" * 3000 + b"]" * 3000):
        with pytest.raises(jsonread.JSONDepthError):
            jsonread.loads(text)
    assert math.isnan(jsonread.loads('[NaN]')[0])  # replies: as json reads them
    for text in ('[NaN]', '{"a": Infinity}', '-Infinity'):
        with pytest.raises(jsonread.NonFiniteNumberError):
            jsonread.loads(text, finite=True)
    assert jsonread.loads('{"x": [1, 2.5, "NaN"]}', finite=True) == {"x": [1, 2.5, "NaN"]}
