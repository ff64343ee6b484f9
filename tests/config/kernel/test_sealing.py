"""Sealed secrets open only under their own label and material."""

from __future__ import annotations

import pytest
from cryptography.fernet import InvalidToken

from config.kernel.sealing import fernet, fernet_for, secrets_material


def test_a_secret_opens_under_its_label_only(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CREDO_SECRETS_KEY = "material-one"
    token = fernet("credo-partner-secrets").encrypt(b"s3cret")
    assert fernet("credo-partner-secrets").decrypt(token) == b"s3cret"
    assert fernet_for("credo-partner-secrets", secrets_material()).decrypt(token) == b"s3cret"
    with pytest.raises(InvalidToken):
        fernet("credo-webhook-secrets").decrypt(token)
    settings.CREDO_SECRETS_KEY = "material-two"  # the secrets key was changed: old tokens no longer open
    with pytest.raises(InvalidToken):
        fernet("credo-partner-secrets").decrypt(token)


def test_the_material_falls_back_to_the_secret_key(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CREDO_SECRETS_KEY = ""
    settings.SECRET_KEY = "the-secret-key"
    assert secrets_material() == "the-secret-key"
