"""Domain signals of the demo world. Leaderboards listen; the demo world never imports them.

``world_seeded(member_ids, now)``: ``seed_demo`` loaded these members' histories at once, dated
over the past year (``scoring.ledger.replay``), without announcing a single score change. Sent
once, synchronously, after contagion was rebuilt: the receivers derive from the ledger what the
live signals would have built over the year — badges dated when they were earned, this week's
board entries (``now`` is the moment of the seeding).
"""

from django.dispatch import Signal

world_seeded = Signal()
