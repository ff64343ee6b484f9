"""One JSON reader with a size and a nesting limit: never a 5xx, always ``{code, detail}``."""

from __future__ import annotations

import pytest

from config.kernel import json_limits

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login/"
DEEP = b"[" * 50_000 + b"]" * 50_000


def test_loads_reads_json_within_the_limits():
    assert json_limits.loads(b'{"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}
    assert json_limits.loads("[]") == []
    nested_32 = "[" * 32 + "]" * 32
    assert json_limits.loads(nested_32) is not None


@pytest.mark.parametrize("data", [
    "[" * 33 + "]" * 33,
    '{"a":' * 33 + "1" + "}" * 33,
    DEEP,  # Python's decoder recursed past its limit here: RecursionError, a 500
    b'{"events": [' + b"[" * 40 + b"]" * 40 + b"]}",
])
def test_too_deep(data):
    with pytest.raises(json_limits.TooDeep) as raised:
        json_limits.loads(data)
    assert (raised.value.status, raised.value.code) == (400, "too_deep")


def test_brackets_inside_strings_are_not_nesting():
    assert json_limits.loads('["' + "[" * 100 + '"]') == ["[" * 100]


def test_too_large():
    with pytest.raises(json_limits.TooLarge) as raised:
        json_limits.loads(b"[" + b"1," * 100 + b"1]", limit_bytes=100)
    assert (raised.value.status, raised.value.code) == (413, "too_large")


@pytest.mark.parametrize("data", [b"{not json", b"\xff\xfe", b"[NaN]", b"[Infinity]", b""])
def test_malformed(data):
    with pytest.raises(json_limits.Malformed) as raised:
        json_limits.loads(data)
    assert raised.value.code == "parse_error"


def test_nested_json_on_the_anonymous_login_is_a_400_not_a_500(api):
    response = api.post(LOGIN, data=DEEP, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"code": "too_deep", "detail": "JSON nested more than 32 levels deep."}


def test_nested_json_on_a_member_endpoint_too(api_as, alice):
    response = api_as(alice).patch("/api/v1/me/", data=b'{"bio": ' + DEEP + b"}", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "too_deep"


def test_5_mb_is_a_json_413(api):
    body = b'{"username": "' + b"a" * 5_000_000 + b'", "password": "x"}'
    response = api.post(LOGIN, data=body, content_type="application/json")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"code": "too_large", "detail": "The body is larger than 2621440 bytes."}


def test_the_parser_reads_no_more_than_the_limit(settings):
    """A stream longer than the limit (a chunked body declares no length) is cut at the limit."""
    import io

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    stream = io.BytesIO(b'{"username": "' + b"a" * 2000 + b'"}')
    with pytest.raises(json_limits.TooLarge):
        json_limits.LimitedJSONParser().parse(stream)
    assert stream.tell() == 1001
