"""The request line and the request id (config.logs.middleware): one JSON line per request, named by
its route; an upstream X-Request-ID kept only when well formed, and echoed either way."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.django_db


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def test_one_json_line_per_request_with_the_upstream_id_echoed(logs, alice, api_as):
    response = api_as(alice).get("/api/v1/me/", HTTP_X_REQUEST_ID="lb-7f3a:42_x.y")
    assert response.status_code == 200
    assert response["X-Request-ID"] == "lb-7f3a:42_x.y"
    [line] = [line for line in logs.lines() if line.get("request_id") == "lb-7f3a:42_x.y"]
    assert line["event"] == "request_finished"
    assert (line["level"], line["logger"]) == ("info", "django_structlog.middlewares.request")
    assert (line["code"], line["request"], line["user_id"]) == (200, "GET /api/v1/me/", alice.pk)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["timestamp"].endswith("Z")
    assert set(line) == {"event", "level", "logger", "timestamp", "request_id", "user_id", "code", "request",
                         "duration_ms"}


@pytest.mark.parametrize("sent", [
    "has spaces", "x" * 65, "line\nbreak", "<script>", "", "ünïcode", "a;b", "a/b",
])
def test_a_malformed_request_id_is_replaced_by_a_new_one(logs, api, sent):
    response = api.get("/api/v1/me/", HTTP_X_REQUEST_ID=sent)
    assert response.status_code == 401
    echoed = response["X-Request-ID"]
    assert echoed != sent and _is_uuid(echoed)
    [line] = logs.events("request_finished")
    assert (line["request_id"], line["code"], line["level"]) == (echoed, 401, "warning")
    assert sent not in logs.text() or sent == ""


def test_the_longest_well_formed_id_is_kept(api):
    assert api.get("/api/v1/me/", HTTP_X_REQUEST_ID="a" * 64)["X-Request-ID"] == "a" * 64


def test_without_an_id_each_request_gets_its_own(logs, api):
    first, second = api.get("/api/v1/me/")["X-Request-ID"], api.get("/api/v1/me/")["X-Request-ID"]
    assert _is_uuid(first) and _is_uuid(second) and first != second
    assert [line["request_id"] for line in logs.events("request_finished")] == [first, second]


def test_a_request_is_named_by_its_route_never_its_path_or_query(logs, alice, bob, api_as):
    api_as(alice).get("/api/v1/friends/bob/?q=secret-search")
    api_as(alice).post("/api/v1/invitations/inv-token-4242/accept/")
    api_as(alice).get("/no/such/page/bob/")
    assert [(line["request"], line["code"]) for line in logs.events("request_finished")] == [
        ("GET /api/v1/friends/<str:username>/", 404),
        ("POST /api/v1/invitations/<str:token>/accept/", 404),
        ("GET <unmatched>", 404),
    ]
    text = logs.text()
    assert "bob" not in text and "secret-search" not in text and "inv-token-4242" not in text


def test_operational_paths_get_an_id_but_no_line(logs, api):
    response = api.get("/health/anything/", HTTP_X_REQUEST_ID="probe-1")
    assert response["X-Request-ID"] == "probe-1"
    assert response.status_code == 404
    assert logs.events("request_finished") == []
    api.get("/api/v1/me/", HTTP_X_REQUEST_ID="after-probe")
    assert [line["request_id"] for line in logs.events("request_finished")] == ["after-probe"]


def test_a_request_that_raises_logs_one_failed_line_with_its_traceback(logs, alice, api_as, monkeypatch):
    from accounts.auth import api as auth_api

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("the view broke for alice@example.com")

    monkeypatch.setattr(auth_api.MeView, "get", broken)
    client = api_as(alice)
    client.raise_request_exception = False
    response = client.get("/api/v1/me/", HTTP_X_REQUEST_ID="boom-1")
    assert response.status_code == 500 and response["X-Request-ID"] == "boom-1"
    [line] = [line for line in logs.lines() if line.get("request_id") == "boom-1"]
    assert (line["event"], line["level"], line["code"], line["request"]) == (
        "request_failed", "error", 500, "GET /api/v1/me/")
    assert "RuntimeError: the view broke for [email]" in line["exception"]
    assert "alice@example.com" not in logs.text()
