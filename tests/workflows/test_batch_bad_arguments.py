"""Issue 12, item 8 (batch): bad arguments are one clear error naming the argument, before
anything is sent."""
from __future__ import annotations

import pytest

from dms_magic.batch import chat_many


class CountingClient:
    def __init__(self):
        self.calls = 0

    def chat(self, messages, **params):
        self.calls += 1
        raise AssertionError("nothing should be sent")


@pytest.mark.parametrize("rate", [float("nan"), 1e-300, float("inf"), "2", True])
def test_a_bad_rate_is_refused_up_front(rate):
    client = CountingClient()
    with pytest.raises(ValueError, match=r"^rate=.* is invalid"):
        chat_many(["a", "b"], client=client, rate=rate, progress=False)
    assert client.calls == 0


@pytest.mark.parametrize("prompts", [None, 5, 3.5, object()])
def test_prompts_that_are_not_a_collection_are_refused_naming_the_argument(prompts):
    client = CountingClient()
    with pytest.raises(TypeError, match=r"^prompts=.* is not a collection of prompts"):
        chat_many(prompts, client=client, progress=False)
    assert client.calls == 0


@pytest.mark.parametrize("junk", ["junk", 42, object()])
def test_a_client_that_is_not_a_client_is_one_error_not_one_per_row(junk):
    with pytest.raises(TypeError, match=r"^client=.* is not a client"):  # raised, not three error rows
        chat_many(["a", "b", "c"], client=junk, progress=False)
