"""Partners' signing keys: creation, rotation, encryption at rest, request signatures.

A signed request carries ``X-Credo-Key: <key id>``, ``X-Credo-Timestamp: <unix seconds>`` and
``X-Credo-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + raw body>`` (DESIGN.md §8).
"""

from __future__ import annotations

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
from config.kernel.sealing import fernet, fernet_for, secrets_material
from scoring.ingestion.models import Partner, PartnerKey, PartnerKeyAudit


class SignatureCode:
    MISSING = "signature_missing"
    UNKNOWN_KEY = "unknown_key"
    REVOKED = "key_revoked"
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


#: The sealing label of partners' signing secrets (``config.kernel.sealing``).
SEALING_LABEL = "credo-partner-secrets"


def _fernet() -> Fernet:
    return fernet(SEALING_LABEL)


@functools.lru_cache(maxsize=256)
def _decrypt_token(material: str, token: bytes) -> bytes:
    """The secret in ``token``. Cached by the ciphertext itself, so a cached entry can never be
    stale: a re-issued or re-encrypted secret is a new token, and whether a key may be used at
    all (revoked, partner inactive) is read from the database on every request."""
    return fernet_for(SEALING_LABEL, material).decrypt(token)


def partner_key_holds(*, key: PartnerKey, secret: str) -> bool:
    """Whether ``secret`` is the signing secret ``key`` was issued with (compared in constant
    time), e.g. to reuse a secret kept outside the database. Raises ``SignatureError`` when the
    secrets key changed since ``key`` was stored: such a key can no longer verify anything."""
    return hmac.compare_digest(_decrypt_secret(bytes(key.secret_encrypted)), secret.encode())


def _decrypt_secret(token: bytes) -> bytes:
    try:
        return _decrypt_token(secrets_material(), token)
    except InvalidToken as exc:  # the secrets key changed: this key can no longer verify
        raise SignatureError("This key can no longer be used.", code=SignatureCode.UNKNOWN_KEY) from exc


@dataclass(frozen=True)
class KnownKey:
    secret_encrypted: bytes
    partner: Partner
    revoked: bool


def _known_key(key_id: str) -> KnownKey | None:
    """The key ``key_id`` of an active partner (revoked or not), in one plain query (every signed
    request makes it; the ORM would spend ≈ 1 ms of CPU building it here)."""
    with connection.cursor() as cursor:
        cursor.execute(_known_key_sql(connection.alias), [key_id])
        row = cursor.fetchone()
    if row is None:
        return None
    secret_encrypted, revoked_at, *fields = row
    partner = Partner.from_db(connection.alias, ["id", "name", "slug", "is_active"], (*fields, True))
    return KnownKey(bytes(secret_encrypted), partner, revoked_at is not None)


@functools.lru_cache(maxsize=4)
def _known_key_sql(alias: str) -> str:
    """``_known_key``'s statement (built once per process: every signed request runs it)."""
    qn = connections[alias].ops.quote_name
    key, partner = PartnerKey._meta, Partner._meta

    def col(meta: Any, name: str) -> str:
        return qn(meta.get_field(name).column)

    return (
        f"SELECT k.{col(key, 'secret_encrypted')}, k.{col(key, 'revoked_at')}, p.{col(partner, 'id')},"  # noqa: S608
        f" p.{col(partner, 'name')}, p.{col(partner, 'slug')} FROM {qn(key.db_table)} k"
        f" JOIN {qn(partner.db_table)} p ON p.{col(partner, 'id')} = k.{col(key, 'partner')}"
        f" WHERE k.{col(key, 'key_id')} = %s AND p.{col(partner, 'is_active')}"
    )  # our tables; the key id is a parameter


def sign(secret: str | bytes, timestamp: int | str, body: bytes) -> str:
    """The ``X-Credo-Signature`` value for a body; what partners compute on their side."""
    raw = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(raw, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class KeyLimit(DomainError):
    """A partner already has ``PartnerKey.MAX_LIVE`` live keys: rotate or revoke one first."""

    status, code = 409, "key_limit"
    detail = f"This partner already has {PartnerKey.MAX_LIVE} live keys: rotate, or revoke one first."


#: Who acted when no one is named (the demo seeding, tests).
SYSTEM = "system"


@transaction.atomic
def partner_create(*, name: str, slug: str | None = None, actor_name: str = SYSTEM) -> IssuedKey:
    partner = Partner.objects.create(name=name, slug=slug or slugify(name))
    return partner_key_issue(partner=partner, actor_name=actor_name)


def _audit(*, key: PartnerKey, action: str, actor_name: str, reason: str = "") -> None:
    PartnerKeyAudit.objects.create(partner_id=key.partner_id, key_id=key.key_id, action=action,
                                   actor_name=actor_name, reason=reason)


@transaction.atomic
def partner_key_issue(*, partner: Partner, actor_name: str = SYSTEM, reason: str = "",
                      rotate: bool = True, revoke_others: bool = False) -> IssuedKey:
    """A new live key, audited. With ``MAX_LIVE`` live keys already, the oldest is revoked
    (rotation: the newer one keeps working while the partner switches); with ``rotate=False``
    that is refused instead (``KeyLimit``). ``revoke_others`` revokes every other live key at
    once (a leaked secret)."""
    live = list(
        PartnerKey.objects.select_for_update()
        .filter(partner=partner, revoked_at__isnull=True)
        .order_by("created_at")
    )
    surplus = live if revoke_others else live[: max(0, len(live) - PartnerKey.MAX_LIVE + 1)]
    if surplus and not rotate and not revoke_others:
        raise KeyLimit()
    for old in surplus:
        _revoke(old, actor_name=actor_name, reason=reason or "rotated: a newer key was issued")
    secret = secrets.token_urlsafe(32)
    key = PartnerKey.objects.create(
        partner=partner,
        key_id="ck_" + secrets.token_hex(10),
        secret_encrypted=_fernet().encrypt(secret.encode()),
    )
    _audit(key=key, action=PartnerKeyAudit.Action.ISSUED, actor_name=actor_name, reason=reason)
    return IssuedKey(slug=partner.slug, key_id=key.key_id, secret=secret)


def _revoke(key: PartnerKey, *, actor_name: str, reason: str) -> bool:
    revoked = PartnerKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if revoked:
        _audit(key=key, action=PartnerKeyAudit.Action.REVOKED, actor_name=actor_name, reason=reason)
    return bool(revoked)


@transaction.atomic
def partner_key_revoke(*, key: PartnerKey, actor_name: str = SYSTEM, reason: str = "") -> bool:
    """Revoke ``key`` now (audited): the next request signed with it gets 401 ``key_revoked``.
    False if it was already revoked."""
    return _revoke(key, actor_name=actor_name, reason=reason)


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
    known = _known_key(key_id)
    if known is None:
        # Still do the work of a comparison, so timing does not tell known keys apart.
        hmac.compare_digest(signature, sign(b"unknown", timestamp, body))
        raise SignatureError("Unknown X-Credo-Key.", code=SignatureCode.UNKNOWN_KEY)
    expected = sign(_decrypt_secret(known.secret_encrypted), timestamp, body)
    matches = hmac.compare_digest(signature.encode(), expected.encode())
    if known.revoked:
        # Said only to whoever holds the secret: a stranger guessing key ids learns nothing.
        if matches:
            raise SignatureError("This X-Credo-Key was revoked: sign with a live key.", code=SignatureCode.REVOKED)
        raise SignatureError("Unknown X-Credo-Key.", code=SignatureCode.UNKNOWN_KEY)
    if not matches:
        raise SignatureError("X-Credo-Signature does not match the body.", code=SignatureCode.BAD)
    return known.partner
