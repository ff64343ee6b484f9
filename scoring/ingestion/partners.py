"""Partners' signing keys: creation, rotation, encryption at rest, request signatures.

A signed request carries ``X-Credo-Key: <key id>``, ``X-Credo-Timestamp: <unix seconds>`` and
``X-Credo-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + raw body>`` (DESIGN.md §8).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone
from django.utils.text import slugify

from config.kernel.errors import DomainError
from scoring.ingestion.models import Partner, PartnerKey


class SignatureCode:
    MISSING = "signature_missing"
    UNKNOWN_KEY = "unknown_key"
    STALE = "stale_timestamp"
    BAD = "bad_signature"


class SignatureError(DomainError):
    """Why a signed request was refused: 401, with one of ``SignatureCode`` as its code."""

    status, code, detail = 401, SignatureCode.BAD, "X-Credo-Signature does not match the body."


@dataclass(frozen=True)
class IssuedKey:
    slug: str
    key_id: str
    secret: str


def _fernet() -> Fernet:
    return _fernet_for(settings.CREDO_SECRETS_KEY or settings.SECRET_KEY)


@functools.lru_cache(maxsize=4)
def _fernet_for(material: str) -> Fernet:
    key = base64.urlsafe_b64encode(hashlib.sha256(("credo-partner-secrets:" + material).encode()).digest())
    return Fernet(key)


@functools.lru_cache(maxsize=256)
def _decrypt_token(material: str, token: bytes) -> bytes:
    """The secret in ``token``. Cached by the ciphertext itself, so a cached entry can never be
    stale: a re-issued or re-encrypted secret is a new token, and whether a key may be used at
    all (revoked, partner inactive) is read from the database on every request."""
    return _fernet_for(material).decrypt(token)


def partner_key_holds(*, key: PartnerKey, secret: str) -> bool:
    """Whether ``secret`` is the signing secret ``key`` was issued with (compared in constant
    time), e.g. to reuse a secret kept outside the database. Raises ``SignatureError`` when the
    secrets key changed since ``key`` was stored: such a key can no longer verify anything."""
    return hmac.compare_digest(_decrypt_secret(bytes(key.secret_encrypted)), secret.encode())


def _decrypt_secret(token: bytes) -> bytes:
    try:
        return _decrypt_token(settings.CREDO_SECRETS_KEY or settings.SECRET_KEY, token)
    except InvalidToken as exc:  # the secrets key changed: this key can no longer verify
        raise SignatureError("This key can no longer be used.", code=SignatureCode.UNKNOWN_KEY) from exc


def _live_key(key_id: str) -> tuple[bytes, Partner] | None:
    """(encrypted secret, partner) of a live key of an active partner, in one plain query
    (every signed request makes it; the ORM would spend ≈ 1 ms of CPU building it here)."""
    with connection.cursor() as cursor:
        cursor.execute(_live_key_sql(connection.alias), [key_id])
        row = cursor.fetchone()
    if row is None:
        return None
    secret_encrypted, *fields = row
    return bytes(secret_encrypted), Partner.from_db(connection.alias, ["id", "name", "slug", "is_active"],
                                                   (*fields, True))


@functools.lru_cache(maxsize=4)
def _live_key_sql(alias: str) -> str:
    """``_live_key``'s statement (built once per process: every signed request runs it)."""
    qn = connections[alias].ops.quote_name
    key, partner = PartnerKey._meta, Partner._meta

    def col(meta: Any, name: str) -> str:
        return qn(meta.get_field(name).column)

    return (
        f"SELECT k.{col(key, 'secret_encrypted')}, p.{col(partner, 'id')}, p.{col(partner, 'name')},"  # noqa: S608
        f" p.{col(partner, 'slug')} FROM {qn(key.db_table)} k"
        f" JOIN {qn(partner.db_table)} p ON p.{col(partner, 'id')} = k.{col(key, 'partner')}"
        f" WHERE k.{col(key, 'key_id')} = %s AND k.{col(key, 'revoked_at')} IS NULL AND p.{col(partner, 'is_active')}"
    )  # our tables; the key id is a parameter


def sign(secret: str | bytes, timestamp: int | str, body: bytes) -> str:
    """The ``X-Credo-Signature`` value for a body; what partners compute on their side."""
    raw = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(raw, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@transaction.atomic
def partner_create(*, name: str, slug: str | None = None) -> IssuedKey:
    partner = Partner.objects.create(name=name, slug=slug or slugify(name))
    return partner_key_issue(partner=partner)


@transaction.atomic
def partner_key_issue(*, partner: Partner) -> IssuedKey:
    """A new live key. With two live keys already, the oldest is revoked (rotation)."""
    live = list(
        PartnerKey.objects.select_for_update()
        .filter(partner=partner, revoked_at__isnull=True)
        .order_by("created_at")
    )
    for old in live[: max(0, len(live) - PartnerKey.MAX_LIVE + 1)]:
        old.revoked_at = timezone.now()
        old.save(update_fields=["revoked_at"])
    secret = secrets.token_urlsafe(32)
    key = PartnerKey.objects.create(
        partner=partner,
        key_id="ck_" + secrets.token_hex(10),
        secret_encrypted=_fernet().encrypt(secret.encode()),
    )
    return IssuedKey(slug=partner.slug, key_id=key.key_id, secret=secret)


def partner_key_revoke(*, key: PartnerKey) -> None:
    PartnerKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def verify_signature(*, key_id: str, timestamp: str, signature: str, body: bytes) -> Partner:
    """The partner that signed this request, or ``SignatureError``. Reads only, never writes."""
    if not key_id or not timestamp or not signature:
        raise SignatureError(
            "X-Credo-Key, X-Credo-Timestamp and X-Credo-Signature are required.", code=SignatureCode.MISSING
        )
    try:
        sent_at = int(timestamp)
    except ValueError as exc:
        raise SignatureError("X-Credo-Timestamp must be unix seconds.", code=SignatureCode.STALE) from exc
    if abs(time.time() - sent_at) > settings.PARTNER_SIGNATURE_TOLERANCE_SECONDS:
        raise SignatureError(
            f"X-Credo-Timestamp is more than {settings.PARTNER_SIGNATURE_TOLERANCE_SECONDS} s away from our clock.",
            code=SignatureCode.STALE,
        )
    live = _live_key(key_id)
    if live is None:
        # Still do the work of a comparison, so timing does not tell known keys apart.
        hmac.compare_digest(signature, sign(b"unknown", timestamp, body))
        raise SignatureError("Unknown or revoked X-Credo-Key.", code=SignatureCode.UNKNOWN_KEY)
    secret_encrypted, partner = live
    expected = sign(_decrypt_secret(secret_encrypted), timestamp, body)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise SignatureError("X-Credo-Signature does not match the body.", code=SignatureCode.BAD)
    return partner
