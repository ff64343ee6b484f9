"""What the data-rights services refuse, with the codes the API answers (shared with the tests)."""

from __future__ import annotations

from accounts.auth.permissions import ACCOUNT_FROZEN
from config.kernel.errors import DomainError


class PrivacyCode:
    EXPORT_NOT_READY = "export_not_ready"  # 409
    EXPORT_EXPIRED = "export_expired"  # 410
    BAD_SIGNATURE = "bad_signature"  # 403
    WRONG_PASSWORD = "wrong_password"  # 400  # noqa: S105  (an error code, not a password)
    CONFIRMATION_REQUIRED = "confirmation_required"  # 400
    RATE_LIMITED = "rate_limited"  # 429


class ExportRateLimited(DomainError):
    status, code = 429, PrivacyCode.RATE_LIMITED


class ExportNotReady(DomainError):
    status, code, detail = 409, PrivacyCode.EXPORT_NOT_READY, "Your export is being prepared."


class ExportExpired(DomainError):
    status, code, detail = 410, PrivacyCode.EXPORT_EXPIRED, "This export has expired: ask for a new one."


class BadSignature(DomainError):
    status, code, detail = 403, PrivacyCode.BAD_SIGNATURE, "This link is not valid."


class ConfirmationRequired(DomainError):
    code, detail = PrivacyCode.CONFIRMATION_REQUIRED, "Confirm that you want to delete your account."


class WrongPassword(DomainError):
    code, detail = PrivacyCode.WRONG_PASSWORD, "Wrong password."


class FrozenAccount(DomainError):
    status, code = 403, ACCOUNT_FROZEN
    detail = "Your account is frozen: it cannot be deleted until the freeze ends."
