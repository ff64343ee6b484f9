"""Domain signals of the scoring app, sent after commit. Leaderboards listen; scoring never
imports leaderboards.

``score_changed(member_id, old_score, new_score, cause, explanation)``: a member's displayed
score moved (ints; ``old_score`` None for the first score).
``base_changed(member_id, old_base, new_base)``: the member's own base moved (floats, points);
friend contagion listens to it.
"""

from django.dispatch import Signal

score_changed = Signal()
base_changed = Signal()
