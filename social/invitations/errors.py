"""The invitations' error codes and the exceptions their services raise.

Every one is a ``DomainError``: the API answers ``{"code", "detail"}`` with it, the web pages
turn it into a message or a page, and the tests import the codes. An unknown token raises the
kernel's ``NotFound``, like any unknown URL.
"""

from __future__ import annotations

from config.kernel.errors import DomainError


class InvitationCode:
    INVITATION_GONE = "invitation_gone"
    RATE_LIMITED = "rate_limited"


class InvitationGone(DomainError):
    status = 410
    code = InvitationCode.INVITATION_GONE
    detail = "This invitation has expired or was already used."


class RateLimited(DomainError):
    """A cap of ``social.invitations.limits`` is reached; raised with a detail naming it."""

    status = 429
    code = InvitationCode.RATE_LIMITED
