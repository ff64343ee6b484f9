"""Webhook secrets and signatures (the Standard Webhooks spec, with its ``standardwebhooks``
library: the reference implementation partners verify with, so both sides sign the same bytes).

A secret is ``whsec_`` + the base64 of 32 random bytes. It is needed to sign, so it cannot be
hashed: it is stored encrypted (Fernet) under a key derived from ``CREDO_SECRETS_KEY`` (or
``SECRET_KEY``) as partners' signing keys are, with a label of its own, so neither kind of
secret can ever be decrypted as the other.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime

from cryptography.fernet import Fernet
from standardwebhooks.webhooks import Webhook

from config.kernel.sealing import fernet

PREFIX = "whsec_"
#: Bytes of randomness in a secret (the spec asks for 24 to 64).
SECRET_BYTES = 32


#: The sealing label of webhook secrets (``config.kernel.sealing``): not a partner key's.
SEALING_LABEL = "credo-webhook-secrets"


def _fernet() -> Fernet:
    return fernet(SEALING_LABEL)


def secret_new() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_seal(secret: str) -> bytes:
    return _fernet().encrypt(secret.encode())


def secret_open(sealed: bytes | memoryview) -> str:
    return _fernet().decrypt(bytes(sealed)).decode()


def signature_header(*, secrets_: Sequence[str], msg_id: str, timestamp: datetime, body: bytes) -> str:
    """``webhook-signature``: one ``v1,<base64>`` per live secret, space-separated (the spec's
    way to rotate: a receiver accepts the message if any signature matches its secret)."""
    return " ".join(Webhook(s).sign(msg_id, timestamp, body) for s in secrets_)
