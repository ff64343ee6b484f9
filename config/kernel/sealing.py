"""Secrets we must read back (a partner's signing key, a webhook secret) are sealed at rest with
Fernet under a key derived from ``CREDO_SECRETS_KEY`` (or ``SECRET_KEY``) and a label per kind of
secret, so no kind can ever be opened as another."""

from __future__ import annotations

import base64
import functools
import hashlib

from cryptography.fernet import Fernet
from django.conf import settings


def secrets_material() -> str:
    """What every sealing key derives from (``CREDO_SECRETS_KEY``, else ``SECRET_KEY``)."""
    return str(settings.CREDO_SECRETS_KEY or settings.SECRET_KEY)


@functools.lru_cache(maxsize=8)
def fernet_for(label: str, material: str) -> Fernet:
    """The Fernet of ``label`` under ``material`` (built once per process: key derivation costs)."""
    key = base64.urlsafe_b64encode(hashlib.sha256(f"{label}:{material}".encode()).digest())
    return Fernet(key)


def fernet(label: str) -> Fernet:
    """The Fernet of ``label`` under today's material."""
    return fernet_for(label, secrets_material())
