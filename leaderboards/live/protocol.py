"""The live leaderboard protocol (DESIGN.md §5, §8): message types, board names, codes.

Named once here and shared by the consumer, the broadcaster, the REST API and the tests.

Client → server: ``{"type": "subscribe", "board": ...}`` (optional ``"batch": true|false``),
``{"type": "resync", "board": ...}``, ``{"type": "unsubscribe", "board": ...}``. A global or
weekly board shows the ``WINDOW`` rows around the member; a friends board, all of it.

Server → client: ``snapshot``, ``rank.changed``, ``error`` (see the consumer's docstring).
Each board's ``seq`` rises by one per message sent to that client, starting at 1. Messages about
the member themself (``notification``, ``challenge.standings``, ``me.changed``) carry no board
and no ``seq``: they are not part of a board's state, and a page that missed one reloads it.

Batches (opt-in, added later; clients that do not ask never see one): a board subscribed with
``"batch": true`` — or any board of a socket opened with ``?batch=1`` unless its subscribe says
``"batch": false`` — gets, per coalescing tick, ONE ``{"type": "rank.batch", "board": ...,
"deltas": [...]}`` instead of one ``rank.changed`` frame per row. Each delta is exactly the
``rank.changed`` message a non-batch client would have received, with its own ``seq``: seqs stay
per board and consecutive across deltas and frames, so gap detection and ``resync`` work as
before (the ``rank.batch`` frame itself takes no seq). A resync keeps the board's mode. A
``batch`` that is not a JSON boolean (or ``?batch=`` other than 1/0/true/false) gets
``{"type": "error", "code": "invalid_batch"}`` and subscribes nothing.
"""

from __future__ import annotations

GLOBAL = "global"
FRIENDS = "friends"
WEEKLY = "weekly"
BOARDS = (GLOBAL, FRIENDS, WEEKLY)

#: How many rows a live global/weekly board shows: a window around the member (the page's first
#: paint shows as many, then the socket takes over).
WINDOW = 25

#: ``?batch=`` on the socket URL: what turns batches on and off (anything else is an error).
BATCH_QUERY_VALUES = {"1": True, "true": True, "0": False, "false": False}


class MessageType:
    # client → server
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    RESYNC = "resync"
    # server → client
    SNAPSHOT = "snapshot"
    RANK_CHANGED = "rank.changed"
    RANK_BATCH = "rank.batch"  # opt-in: one tick's rank.changed deltas of one board in one frame
    ERROR = "error"
    # server → client, about the member themself (sent whatever boards they subscribed to)
    NOTIFICATION = "notification"  # a new item of their feed
    CHALLENGE_STANDINGS = "challenge.standings"  # standings of a challenge they take part in
    ME_CHANGED = "me.changed"  # their score, badges or perks moved: pages refresh those parts


class InternalType:
    """Channel-layer messages between the app and consumers (never sent to clients as such).

    Handler names follow them: ``member.changed`` → ``member_changed``.
    """

    MEMBER_CHANGED = "member.changed"  # to member.<id>: a member's displayed score or listing moved
    FRIENDS_CHANGED = "friends.changed"  # to user.<id>: a friendship started or ended
    AUTH_CHECK = "auth.check"  # to user.<id>: the member logged out somewhere; re-check credentials
    CLIENT_PUSH = "client.push"  # to user.<id>: forward ``payload`` (a MessageType dict) to the client


class CloseCode:
    """WebSocket close codes (4000-4999 are the application's own)."""

    #: No session and no ticket, or the session / token behind the socket was logged out.
    NOT_AUTHENTICATED = 4401
    #: ``?ticket=`` was unknown, already used or older than 60 s.
    TICKET_INVALID = 4403


class ErrorCode:
    """``code`` of ``{"type": "error", ...}`` messages and of REST errors."""

    BAD_JSON = "bad_json"
    UNKNOWN_TYPE = "unknown_type"
    UNKNOWN_BOARD = "unknown_board"
    NOT_SUBSCRIBED = "not_subscribed"
    INVALID_BATCH = "invalid_batch"
    NOT_AUTHENTICATED = "not_authenticated"
    TICKET_INVALID = "ticket_invalid"
    INVALID_CURSOR = "invalid_cursor"
    UNKNOWN_SEASON = "unknown_season"
