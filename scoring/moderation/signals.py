"""Domain signals of moderation, sent after commit. Leaderboards listen; scoring never imports
leaderboards.

``dispute_decided(dispute_id, member_id, status)``: a member's dispute was decided — by a moderator,
by the partner's answer, or for the member when the partner's deadline passed (``status`` is the new
``Dispute.Status``); the badges listen.
"""

from django.dispatch import Signal

dispute_decided = Signal()

