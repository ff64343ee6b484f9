"""Domain signals of the friend graph (never ``post_save``: see STYLE.md).

Higher apps (scoring's contagion engine, leaderboards' friends boards) listen to these; social
never imports them. Both are sent only AFTER the transaction that changed the friend graph
commits, exactly once per change, with ``sender=Friendship`` and plain JSON-safe values
(ints, strings, aware datetimes), so a receiver can hand them straight to a Celery task.

``friendship_started``
    A friendship became live (both sides accepted: a request accepted, requests crossing each
    other, or an invitation accepted). Keyword arguments:

    * ``friendship_id`` (int)
    * ``member_a_id``, ``member_b_id`` (int): the pair, ``member_a_id < member_b_id``
    * ``accepted_at`` (datetime, UTC)
    * ``vests_at`` (datetime, UTC): ``accepted_at + settings.CONTAGION_VESTING``. The edge is
      NOT yet active for contagion when this fires (unless the vesting is zero); it joins
      ``social.graph.selectors.friendships_active_for_contagion`` at ``vests_at``, and
      scoring's periodic ``contagion_tick`` picks it up then (no signal fires when it vests).

``friendship_ended``
    A live friendship ended (the row is kept as history). Keyword arguments:

    * ``friendship_id`` (int)
    * ``member_a_id``, ``member_b_id`` (int), ``member_a_id < member_b_id``
    * ``reason`` (str): ``"unfriended"``, ``"blocked"`` or ``"moderator"``
      (``Friendship.EndReason``)
    * ``ended_at`` (datetime, UTC)
    * ``was_vested`` (bool): whether the edge counted for contagion at ``ended_at`` by age
      alone (private mode and inactive members aside), so a listener can skip edges that
      never entered the contagion graph.
"""

from __future__ import annotations

from django.dispatch import Signal

friendship_started = Signal()
friendship_ended = Signal()
