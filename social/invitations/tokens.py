"""Invitation tokens: 256 random bits in the link, only their SHA-256 in the database.

A plain (unsalted) SHA-256 is enough here: the token is 256 bits of ``secrets`` randomness, so
there is nothing to brute-force, and an exact-match lookup needs a deterministic hash.
"""

from __future__ import annotations

import hashlib
import secrets

from social.invitations.limits import INVITATION_TOKEN_BYTES


def invitation_token_new() -> str:
    return secrets.token_urlsafe(INVITATION_TOKEN_BYTES)


def invitation_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
