"""The invitations' numbers, named once (STYLE.md §7)."""

from __future__ import annotations

from datetime import timedelta

#: An invitation link works this long after it was created.
INVITATION_TTL = timedelta(days=7)
#: Open (unused, unexpired) invitations a member may hold at once.
MAX_OPEN_INVITATIONS = 20
#: Invitation emails a member may send in any rolling 24 hours.
MAX_INVITATION_EMAILS_PER_DAY = 10
INVITATION_EMAIL_WINDOW = timedelta(days=1)
#: Bytes of randomness in an invitation token (256 bits).
INVITATION_TOKEN_BYTES = 32
