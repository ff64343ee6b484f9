"""Domain signals of the boards, sent after commit. Gamification listens; the boards never
import it.

``season_ended(season_id)``: a weekly season closed and its final standings are frozen
(``SeasonEntry.final_rank``), sent once per season by ``services.season_close`` with
``sender=Season``. The most improved of the week are awarded from it.
"""

from django.dispatch import Signal

season_ended = Signal()
