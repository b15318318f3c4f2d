"""Issue 23 item 4: JSON nested ~1,000 levels deep (2 KB) in any reply is an error naming the
problem, never a bare RecursionError; every reply goes through the one reader (wire/jsonread)."""
from __future__ import annotations

import json

import pytest

from dms_magic import errors

from helpers.scripted import make_client, sse_body

DEEP = "[" * 5000 + "]" * 5000
JUST_UNDER_THE_RECURSION_LIMIT = "[" * 900 + "]" * 900  # parses with json.loads, breaks whatever walks it

REPLIES = {
    "answer body": (200, ('{"RequestId":"R","Data":{"Choices":[],"X":%s}}' % DEEP).encode()),
    "900 levels": (200, ('{"RequestId":"R","Data":{"Choices":[],"X":%s}}' % JUST_UNDER_THE_RECURSION_LIMIT).encode()),
    "error body": (400, ('{"RequestId":"R","Code":"X","Message":%s}' % DEEP).encode()),
    "error body at 200": (200, ('{"RequestId":"R","Success":false,"Code":%s}' % DEEP).encode()),
}


@pytest.mark.parametrize("name", list(REPLIES))
def test_a_deep_reply_body_is_an_unreadable_reply_error(scripted, name):
    server = scripted(REPLIES[name])
    with make_client(server.url, max_retries=0) as client:
        with pytest.raises(errors.DmsError) as info:
            client.chat("hi")
    assert "unreadable reply" in str(info.value)


def test_a_deep_stream_event_is_an_unreadable_event_error(scripted):
    event = '{"RequestId":"R","Data":{"Choices":[{"Message":{"Content":"a"}}],"X":%s}}' % DEEP
    server = scripted(sse_body(f"data: {event}\n\n"))
    with make_client(server.url, max_retries=0) as client:
        with pytest.raises(errors.DmsError) as info:
            list(client.stream("hi"))
    assert "unreadable stream event" in str(info.value)


@pytest.mark.parametrize("where", ["Data", "Logprobs"])
def test_deep_json_inside_a_json_string_of_the_reply_is_read_as_missing(scripted, where):
    data = {"Choices": [{"Message": {"Content": "ok"}, "FinishReason": "stop"}]}
    if where == "Data":
        body = {"RequestId": "R", "Data": json.dumps(data)[:-1] + ',"X":' + DEEP + "}"}
    else:
        data["Choices"][0]["Logprobs"] = '{"content":' + DEEP + "}"
        body = {"RequestId": "R", "Data": data}
    server = scripted((200, body))
    with make_client(server.url, max_retries=0) as client:
        if where == "Data":
            # an unreadable Data is no answer: an error naming it, never an empty success (issue 20)
            with pytest.raises(errors.DmsError) as info:
                client.chat("hi")
            assert info.value.code == "InvalidResponse" and "Data" in str(info.value)
            return
        result = client.chat("hi")
    # the unreadable part is missing from the result, as an unparseable one always was
    assert result.text == "ok" and len(result.logprobs) == 0

