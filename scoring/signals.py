"""Domain signals of the scoring app, sent after commit. Leaderboards listen; scoring never
imports leaderboards.

``score_changed(member_id, old_score, new_score, cause, explanation)``: a member's displayed
score moved (ints; ``old_score`` None for the first score).
``bases_changed(member_ids)``: these members' own bases moved (a list of ints: a scoring
batch announces all its members at once); friend contagion listens to it and folds the new
bases in with one task per batch.
``dispute_decided(dispute_id, member_id, status)``: a moderator accepted or rejected a member's
dispute (``status`` is the new ``Dispute.Status``); the badges listen.
"""

from django.dispatch import Signal

score_changed = Signal()
bases_changed = Signal()
dispute_decided = Signal()
