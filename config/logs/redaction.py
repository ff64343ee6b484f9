"""Keep secrets and member data out of every log line.

Two nets, both applied to every line before it is written (structlog's own events and the
standard library's records alike):

* by key: a field whose name says it holds a secret or member data (``password``, ``token``,
  ``secret``, ``signature``, ``authorization``, ``cookie``, ``session``, ``ticket``, ``email`` …,
  in any case, with ``-`` or ``_``, a ``HTTP_`` prefix or not) keeps its name and loses its value;
* by shape: inside any text — a message, an exception's text, a traceback — HMAC signatures
  (``sha256=…``), webhook secrets (``whsec_…``), ``Authorization`` values (``Token …``,
  ``Bearer …``, ``Basic …``), cookies (``sessionid=…``, ``csrftoken=…``), ``ticket=`` query
  values, email addresses and long hex strings (knox tokens, digests) are replaced.

Ids (member ids, event ids, task and request ids) stay: they are what a line is for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from typing import Any

REDACTED = "[redacted]"

#: A field whose normalised name contains one of these words carries a secret or member data.
SENSITIVE_WORDS = (
    "password", "passwd", "secret", "token", "signature", "authorization", "cookie", "session",
    "ticket", "email", "csrf", "otp", "totp", "recovery_code", "api_key", "apikey", "private_key",
    "credit_card", "phone",
)
#: Fields that the words above would catch but that hold ids or counts, not secrets.
ALLOWED_KEYS = frozenset({"session_expired", "token_count"})

_TEXT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"sha256=[0-9A-Za-z+/=_-]+"), "sha256=" + REDACTED),
    (re.compile(r"whsec_[0-9A-Za-z+/=_-]*"), "whsec_" + REDACTED),
    (re.compile(r"\b(Token|Bearer|Basic)\s+[0-9A-Za-z._~+/=-]+"), r"\1 " + REDACTED),
    (re.compile(r"\b(sessionid|csrftoken|messages)=[^;,\s\"']+", re.IGNORECASE), r"\1=" + REDACTED),
    (re.compile(r"([?&](?:ticket|token|key|signature|sig)=)[^&\s\"']+", re.IGNORECASE), r"\1" + REDACTED),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"), "[email]"),
    (re.compile(r"\b[0-9a-fA-F]{40,}\b"), REDACTED),
)


def sensitive_key(key: object) -> bool:
    """Whether a field of this name must not show its value."""
    if not isinstance(key, str):
        return False
    name = key.lower().replace("-", "_")
    name = name.removeprefix("http_")
    if name in ALLOWED_KEYS:
        return False
    return any(word in name for word in SENSITIVE_WORDS)


def scrub_text(text: str) -> str:
    """``text`` with every secret-shaped part replaced."""
    for pattern, replacement in _TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def scrub(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` (text, mappings, sequences of them) with secrets redacted."""
    if isinstance(value, str):
        return scrub_text(value)
    if depth > 8:  # a line is not a data dump; deeper structure is dropped, not searched
        return REDACTED
    if isinstance(value, Mapping):
        return {k: REDACTED if sensitive_key(k) else scrub(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub(v, depth + 1) for v in value]
    if isinstance(value, bytes):
        return scrub_text(value.decode("utf-8", "replace"))
    return value


def redact(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: the event with every sensitive field and secret-shaped text redacted.

    structlog's bookkeeping (``_record``, ``_from_structlog``) and a not yet formatted
    ``exc_info`` pass through untouched; the formatted traceback is scrubbed once
    ``format_exc_info`` has turned it into text.
    """
    for key, value in list(event_dict.items()):
        if key.startswith("_") or key == "exc_info":
            continue
        event_dict[key] = REDACTED if sensitive_key(key) else scrub(value)
    return event_dict
