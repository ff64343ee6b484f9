"""Domain signals of ingestion, for the layers above it (ingestion never imports them).

``consent_revoked(member_id, username, partner_id, revoked_at)``: a member disconnected a
partner. Sent INSIDE the revoking transaction, unlike the ledger's after-commit signals: its one
receiver (``scoring.webhooks.receivers``) writes the partner's ``consent.revoked`` webhook to the
outbox, which must commit or roll back with the revocation itself. A receiver that raises fails
the revocation (``send``, not ``send_robust``): no revocation without its webhook.
"""

from django.dispatch import Signal

consent_revoked = Signal()
