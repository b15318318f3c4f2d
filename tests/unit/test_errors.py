"""Gateway and business errors become DmsError subclasses with the fields and a hint to act on."""
from __future__ import annotations

import pytest

from dms_magic import errors

KNOWN = [
    # code, HTTP status, class, words the hint must contain
    ("SignatureDoesNotMatch", 400, errors.AuthError, ["secret", "clock"]),
    ("IncompleteSignature", 400, errors.AuthError, ["signed"]),
    ("InvalidAccessKeyId.NotFound", 404, errors.AuthError, ["AccessKey id"]),
    ("InvalidTimeStamp.Expired", 400, errors.AuthError, ["clock"]),
    ("SignatureNonceUsed", 400, errors.AuthError, ["nonce"]),
    ("Throttling", 429, errors.ThrottlingError, ["slow down"]),
    ("Throttling.User", 400, errors.ThrottlingError, ["slow down"]),
    ("MissingParameter", 400, errors.ParameterError, ["required"]),
    ("InvalidParameter", 400, errors.ParameterError, ["out of range"]),
    ("Forbidden.RAM", 403, errors.PermissionError_, ["dms:ChatWithDesensitize"]),
    ("NoPermission", 403, errors.PermissionError_, ["dms:ChatWithDesensitize"]),
    ("InternalError", 500, errors.ServiceError, ["request id"]),
    ("ServiceUnavailable", 503, errors.ServiceError, ["try again"]),
]


@pytest.mark.parametrize("code, status, cls, words", KNOWN, ids=[k[0] for k in KNOWN])
def test_gateway_error_fields_class_and_hint(code, status, cls, words):
    body = {"RequestId": "5C9A-REQ", "HostId": "dms-enterprise.aliyuncs.com", "Code": code,
            "Message": "Specified thing is wrong.", "Recommend": "https://api.aliyun.com/troubleshoot?q=" + code}
    err = errors.from_response(status, body)
    assert type(err) is cls
    assert (err.code, err.message, err.request_id, err.http_status) == (
        code, "Specified thing is wrong.", "5C9A-REQ", status)
    assert err.recommend.endswith(code) and err.host_id == "dms-enterprise.aliyuncs.com"
    for word in words:
        assert word in err.hint
    line = str(err)
    assert "\n" not in line and code in line and "5C9A-REQ" in line and err.hint in line


def test_business_error_with_success_false():
    body = {"RequestId": "B-1", "Success": False, "ErrorCode": "InvalidParameter", "ErrorMessage": "bad rule"}
    assert errors.is_failure(200, body)
    err = errors.from_response(200, body)
    assert isinstance(err, errors.ParameterError)
    assert (err.code, err.message, err.request_id, err.http_status) == ("InvalidParameter", "bad rule", "B-1", 200)


def test_success_false_as_a_string_is_a_failure_too():
    assert errors.is_failure(200, {"Success": "false", "ErrorCode": "X"})
    assert not errors.is_failure(200, {"Success": True, "Data": {"StatusCode": "200"}})


def test_model_error_inside_data_is_surfaced():
    body = {"RequestId": "D-1", "Success": True,
            "Data": {"StatusCode": "400", "Message": "InvalidParameter", "Type": "invalid_request_error"}}
    assert errors.is_failure(200, body)
    err = errors.from_response(200, body)
    assert err.code == "InvalidParameter" and err.request_id == "D-1"
    assert (err.http_status, err.model_status, err.error_type) == (200, 400, "invalid_request_error")
    assert "(model status 400)" in str(err) and "HTTP 200" not in str(err)  # 200 reads as success


@pytest.mark.parametrize("status, shown", [(200, False), (302, False), (400, True), (503, True)])
def test_the_line_names_the_http_status_only_when_it_is_an_error(status, shown):
    err = errors.DmsError("m", code="X", http_status=status)
    assert (f"(HTTP {status})" in str(err)) is shown and err.http_status == status


def test_unknown_codes_fall_back_to_their_family_hint():
    assert "slow down" in errors.from_response(400, {"Code": "Throttling.Api"}).hint
    assert "AccessKey" in errors.hint_for("InvalidAccessKeyId.Inactive")
    err = errors.from_response(400, {"Code": "SomethingNew", "Message": "m"})
    assert type(err) is errors.DmsError and err.hint is None and "SomethingNew: m" in str(err)


def test_lower_camel_keys_are_read_too():
    err = errors.from_response(400, {"requestId": "r", "code": "InvalidParameter", "message": "m"})
    assert (err.code, err.request_id, err.message) == ("InvalidParameter", "r", "m")


@pytest.mark.parametrize("status, code", [(502, "ServiceUnavailable"), (500, "InternalError"), (404, "UnknownError")])
def test_unreadable_replies_still_give_one_clear_error(status, code):
    err = errors.from_response(status, b"<html>nginx</html>")
    assert err.code == code and err.http_status == status and "nginx" in err.message


def test_an_html_page_is_named_by_its_title_and_a_4xx_one_points_at_the_endpoint():
    page = b"<html><head><title>403 Forbidden</title></head><body>nginx</body></html>" + b"<!-- padding -->" * 50
    err = errors.from_response(403, page)
    assert "HTML page ('403 Forbidden'), not a DMS reply" in str(err) and "padding" not in str(err)
    assert "check the endpoint" in err.hint and "unknown error" not in err.hint
    busy = errors.from_response(503, b"<html><title>503 Service Temporarily Unavailable</title></html>")
    assert busy.code == "ServiceUnavailable" and "check the endpoint" not in busy.hint


def test_ipython_shows_one_line_instead_of_a_traceback():
    err = errors.from_response(403, {"Code": "Forbidden.RAM", "Message": "denied", "RequestId": "R"})
    assert err._render_traceback_() == [f"PermissionError_: {err}"]


@pytest.mark.parametrize("data_status, code, cls", [
    ("400", "InvalidParameter", errors.ParameterError),
    ("429", "Throttling", errors.ThrottlingError),
    ("500", "InternalError", errors.ServiceError),
    ("503", "ServiceUnavailable", errors.ServiceError),
])
def test_model_error_without_a_code_keeps_its_message_as_the_message(data_status, code, cls):
    text = "Range of input length should be [1, 30720]"
    body = {"RequestId": "D-2", "Success": True, "Data": {"StatusCode": data_status, "Message": text}}
    err = errors.from_response(200, body)
    assert type(err) is cls and err.code == code and err.message == text
    assert (err.http_status, err.model_status) == (200, int(data_status)) and err.hint == errors.HINTS[code]
    assert str(err).startswith(f"{code}: {text}")


def test_model_error_code_inside_data_wins():
    body = {"RequestId": "D-3", "Success": True,
            "Data": {"StatusCode": "400", "Code": "DataInspectionFailed", "Message": "inappropriate content",
                     "Type": "invalid_request_error"}}
    err = errors.from_response(200, body)
    assert (err.code, err.message, err.http_status, err.model_status) == (
        "DataInspectionFailed", "inappropriate content", 200, 400)


def test_any_key_case_is_read_in_business_and_model_errors():
    assert errors.is_failure(200, {"success": "false"})
    body = {"requestId": "D-4", "success": True, "data": {"statusCode": 400, "message": "too long"}}
    assert errors.is_failure(200, body)
    err = errors.from_response(200, body)
    assert (err.code, err.message, err.request_id, err.http_status, err.model_status) == (
        "InvalidParameter", "too long", "D-4", 200, 400)
    assert not errors.is_failure(200, {"success": True, "data": {"statusCode": "200"}})


# -- the most specific failure wins; the statuses keep their meaning ---------------------------------
@pytest.mark.parametrize("data", [
    {"StatusCode": "400", "Message": "Range of input length should be [1, 30720]", "Type": "invalid_request_error"},
    '{"StatusCode":"400","Message":"Range of input length should be [1, 30720]","Type":"invalid_request_error"}',
], ids=["data-object", "data-json-string"])
def test_a_model_failure_beats_a_placeholder_top_level_code(data):
    # The reference page's own example has Success: true with ErrorCode/ErrorMessage "UnknownError".
    body = {"RequestId": "P-1", "Success": True, "ErrorCode": "UnknownError", "ErrorMessage": "UnknownError",
            "Data": data}
    assert errors.is_failure(200, body)
    err = errors.from_response(200, body)
    assert type(err) is errors.ParameterError
    assert (err.code, err.message) == ("InvalidParameter", "Range of input length should be [1, 30720]")
    assert (err.http_status, err.model_status, err.error_type, err.request_id) == (
        200, 400, "invalid_request_error", "P-1")
    assert "UnknownError" not in str(err)


@pytest.mark.parametrize("model_status, cls", [("429", errors.ThrottlingError), ("500", errors.ServiceError),
                                               ("503", errors.ServiceError)])
def test_the_class_follows_the_real_failure_not_the_placeholder(model_status, cls):
    body = {"Success": True, "ErrorCode": "UnknownError", "ErrorMessage": "UnknownError",
            "Data": {"StatusCode": model_status, "Message": "model side"}}
    err = errors.from_response(200, body)
    assert type(err) is cls and err.message == "model side" and err.model_status == int(model_status)


def test_the_reference_success_example_with_placeholders_is_not_a_failure():
    body = {"RequestId": "R", "ErrorCode": "UnknownError", "ErrorMessage": "UnknownError", "Success": True,
            "Data": {"StatusCode": "200", "Message": "InvalidParameter", "Type": "invalid_request_error",
                     "Choices": [{"FinishReason": "stop", "Message": {"Content": "ok"}}]}}
    assert not errors.is_failure(200, body)


def test_an_error_code_without_success_is_a_failure():
    body = {"RequestId": "N-1", "ErrorCode": "InstanceNotExist", "ErrorMessage": "no such instance"}
    assert errors.is_failure(200, body)
    err = errors.from_response(200, body)
    assert (err.code, err.message, err.request_id, err.http_status) == (
        "InstanceNotExist", "no such instance", "N-1", 200)
    assert errors.is_failure(200, {"ErrorCode": "UnknownError"})


def test_the_request_id_falls_back_to_the_header():
    headers = {"x-acs-request-id": "HDR-1"}
    assert errors.from_response(400, {"Code": "InvalidParameter"}, headers=headers).request_id == "HDR-1"
    assert errors.from_response(502, b"Bad Gateway", headers=headers).request_id == "HDR-1"
    assert errors.from_response(400, {"Code": "X", "RequestId": "BODY"}, headers=headers).request_id == "BODY"


def test_xml_error_bodies_keep_their_code():
    xml = (b'<?xml version="1.0" encoding="UTF-8"?><Error><RequestId>X-1</RequestId><HostId>dms-enterprise'
           b'.aliyuncs.com</HostId><Code>Throttling.User</Code><Message>Request was denied due to user flow '
           b'control.</Message><Recommend>https://api.aliyun.com/troubleshoot?q=Throttling.User</Recommend></Error>')
    err = errors.from_response(400, xml)
    assert type(err) is errors.ThrottlingError
    assert (err.code, err.request_id, err.host_id) == ("Throttling.User", "X-1", "dms-enterprise.aliyuncs.com")
    assert err.message.startswith("Request was denied") and err.recommend.endswith("Throttling.User")
    assert errors.from_response(404, b"<html><body>nginx</body></html>").code == "UnknownError"  # HTML is not XML


def test_permission_hints_name_the_action_that_was_called():
    body = {"Code": "Forbidden.RAM", "Message": "denied"}
    assert "dms:ChatWithDesensitize." in errors.from_response(403, body, action="ChatWithDesensitize").hint
    sse = errors.from_response(403, body, action="ChatWithDesensitizeSSE")
    assert "dms:ChatWithDesensitizeSSE" in sse.hint and sse.action == "ChatWithDesensitizeSSE"
    assert "dms:ChatWithDesensitizeSSE" in errors.from_response(403, {"Code": "NoPermission"},
                                                                action="ChatWithDesensitizeSSE").hint


def test_retry_after_and_access_denied_detail_are_attributes_as_in_the_sdk():
    detail = {"PolicyType": "AccountLevelIdentityBasedPolicy", "AuthAction": "dms:ChatWithDesensitize"}
    err = errors.from_response(403, {"Code": "Forbidden.RAM", "Message": "denied", "AccessDeniedDetail": detail},
                               headers={"x-acs-retry-after": "2500"})
    assert err.access_denied_detail == detail and err.retry_after == 2.5  # seconds; the header is ms
    assert errors.from_response(400, {"Code": "X"}).retry_after is None
    assert errors.from_response(429, b"busy", headers={"Retry-After": "3"}).retry_after == 3.0


def test_no_hint_promises_a_retry():
    # Whether a failure was retried is the client's retry policy's to say (client/_retry.py).
    assert not [code for code, hint in errors.HINTS.items() if "retried" in hint or "retry_" in hint]
