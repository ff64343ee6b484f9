"""Secrets and member data never reach a line (config.logs.redaction), by field name and by shape,
whichever logger wrote it: structlog's or the standard library's."""

from __future__ import annotations

import logging

import pytest
import structlog

from config.logs.redaction import REDACTED, redact, scrub_text, sensitive_key


@pytest.mark.parametrize("key", [
    "password", "new_password", "Password1", "HTTP_AUTHORIZATION", "authorization", "HTTP_COOKIE", "Set-Cookie",
    "sessionid", "session_key", "secret", "webhook_secret", "token", "token_key", "X-Credo-Signature",
    "HTTP_X_CREDO_SIGNATURE", "ticket", "email", "csrfmiddlewaretoken", "totp_code",
])
def test_a_field_named_for_a_secret_loses_its_value(key):
    assert sensitive_key(key)
    assert redact(None, "info", {"event": "x", key: "hunter2-value"}) == {"event": "x", key: REDACTED}


@pytest.mark.parametrize("key", ["request_id", "user_id", "member_id", "task_id", "code", "request", "event",
                                 "duration_ms", "key_id", "partner", "session_expired"])
def test_ids_and_ordinary_fields_stay(key):
    assert not sensitive_key(key)
    assert redact(None, "info", {key: 42}) == {key: 42}


@pytest.mark.parametrize(("text", "clean"), [
    ("sig sha256=" + "ab12" * 16 + " refused", f"sig sha256={REDACTED} refused"),
    ("endpoint secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", f"endpoint secret whsec_{REDACTED}"),
    ("Authorization: Token 9f86d081884c7d659a2feaa0c55ad015", f"Authorization: Token {REDACTED}"),
    ("Bearer eyJhbGciOi.eyJzdWIi.SflKxw", f"Bearer {REDACTED}"),
    ("Cookie: sessionid=abc123xyz; csrftoken=q9Q", f"Cookie: sessionid={REDACTED}; csrftoken={REDACTED}"),
    ("GET /ws/leaderboards/?ticket=Zm9vYmFy&board=friends", f"GET /ws/leaderboards/?ticket={REDACTED}&board=friends"),
    ("/download/?sig=1a2b3c", f"/download/?sig={REDACTED}"),
    ("duplicate key (email)=(dora.k+credo@mail.example.org)", "duplicate key (email)=([email])"),
    ("knox " + "0" * 64, f"knox {REDACTED}"),
    ("member 42 scored, event 7, request 3f1c0d3e-1b4c-4e0a-9d3e-2b9c1e0f4a5b",
     "member 42 scored, event 7, request 3f1c0d3e-1b4c-4e0a-9d3e-2b9c1e0f4a5b"),
])
def test_secret_shaped_text_is_replaced_and_the_rest_kept(text, clean):
    assert scrub_text(text) == clean


def test_nested_values_are_redacted_too():
    event = {"event": "x", "headers": {"Authorization": "Token abc", "Accept": "application/json"},
             "items": [{"password": "p"}, "to bob@example.com"]}
    assert redact(None, "info", event) == {
        "event": "x", "headers": {"Authorization": REDACTED, "Accept": "application/json"},
        "items": [{"password": REDACTED}, "to [email]"]}


def test_a_standard_library_record_is_redacted_in_its_message_and_traceback(logs):
    try:
        raise ValueError("bad signature sha256=" + "f" * 64 + " for carol@example.com")
    except ValueError:
        logging.getLogger("scoring.ingestion").exception("refused %s", "Token " + "a" * 64)
    [line] = logs.lines()
    assert line["event"] == f"refused Token {REDACTED}"
    assert f"ValueError: bad signature sha256={REDACTED} for [email]" in line["exception"]
    assert "carol@example.com" not in logs.text() and "f" * 64 not in logs.text()


def test_a_structlog_event_is_redacted_by_key_and_shape(logs):
    structlog.get_logger("config.logs.test").warning(
        "login refused", password="correct horse", username="dora", note="mail dora@example.com")
    [line] = logs.lines()
    assert (line["password"], line["username"], line["note"]) == (REDACTED, "dora", "mail [email]")
