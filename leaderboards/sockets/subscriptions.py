"""What a socket holds per subscribed board, and the messages that keep its client in step.

``Live`` is one subscribed board: the rows its client shows (a friends board whole, ranked here
as members move; a global/weekly window of ``protocol.WINDOW`` rows around the member, read
again from the index), its ``seq``, and what changed since the last flush. ``live_load`` reads
a board afresh (database or index: run it in a thread). ``diff`` turns an old window and a
fresh one into the moves the client needs, and ``rank_changed`` one move into a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from accounts.members.models import User
from leaderboards.boards import backends, services
from leaderboards.boards.ranking import Entry, Move, RankedBoard
from leaderboards.live import protocol
from leaderboards.live.protocol import MessageType
from leaderboards.sockets.feed import Change


@dataclass
class Live:
    """One subscribed board: what its client shows, and what a flush needs to bring it up to date."""

    name: str
    members: set[int]  # the members whose changes concern this board (watched through the feed)
    board: RankedBoard | None = None  # friends: the whole board, ranked here
    window: dict[int, Entry] = field(default_factory=dict)  # global/weekly: rows read from the index
    season: dict | None = None
    total: int = 0
    my_rank: int | None = None
    seq: int = 0
    batch: bool = False  # one rank.batch frame per flush instead of a rank.changed frame per row
    dirty: bool = False
    causes: dict[int, str] = field(default_factory=dict)

    def shown(self) -> dict[int, Entry]:
        """The rows its client shows, by member id in board order."""
        return self.board.ordered() if self.board is not None else self.window

    def take(self, change: Change, *, me: int) -> bool:
        """Note ``change`` if this board shows its member (a friends board moves the row at once;
        a window is reloaded at the flush); False if the board does not show them."""
        member_id = change.member_id
        if member_id not in self.members:
            return False
        self.dirty = True
        self.causes[member_id] = change.cause
        if self.board is not None:
            if change.item is not None:
                self.board.put(change.item)
            elif member_id != me:
                self.board.remove(member_id)
        return True


def live_load(name: str, member: User) -> Live:
    """The board ``name`` as ``member`` sees it now: a friends board whole, any other the window
    around them (synchronous: database and index reads)."""
    me = member.pk
    if name == protocol.FRIENDS:
        board = RankedBoard(backends.FriendsBoard(member).items(), viewer=me)
        mine = board.entries.get(me)
        return Live(name, set(board.items) | {me}, board=board, total=len(board),
                    my_rank=mine.rank if mine else None)
    view = services.board_for(name, viewer=member).view(viewer_id=me, limit=protocol.WINDOW, around_me=True)
    season = backends.season_dict(view.season) if view.season is not None else None
    return Live(name, {e.member_id for e in view.entries} | {me}, window={e.member_id: e for e in view.entries},
                season=season, total=view.total, my_rank=view.me.rank if view.me else None)


def diff(old: Mapping[int, Entry], new: Mapping[int, Entry], *, me: int) -> list[Move]:
    """The rows that take a client from ``old`` to ``new`` (both by member id in board order), as
    ``RankedBoard.changes()`` gives them: each row whose rank or score moved or that entered, in
    the new board's order, then each row that left."""
    out: list[Move] = []
    for member_id, after in new.items():
        before = old.get(member_id)
        if before is None or before.rank != after.rank or before.score != after.score:
            out.append((before, after, passed_by(old, new, me=me) if member_id == me and before else []))
    out.extend((before, None, []) for member_id, before in old.items() if member_id not in new)
    return out


def passed_by(old: Mapping[int, Entry], new: Mapping[int, Entry], *, me: int) -> list[str]:
    """Who was below ``me`` on ``old`` and is above on ``new``, in the new board's order."""
    old_pos = {member_id: i for i, member_id in enumerate(old)}
    new_pos = {member_id: i for i, member_id in enumerate(new)}
    return [new[x].username for x in new_pos
            if x != me and x in old_pos and old_pos[x] > old_pos[me] and new_pos[x] < new_pos[me]]


def rank_changed(move: Move, *, board: str, seq: int, me: int, causes: Mapping[int, str]) -> dict[str, Any]:
    """The ``rank.changed`` message (DESIGN.md §8) of one moved row; ``passed_by`` on the
    member's own row when it was and still is on the board."""
    before, after, passed = move
    shown = after or before
    assert shown is not None
    message: dict[str, Any] = {
        "type": MessageType.RANK_CHANGED, "board": board, "seq": seq, "username": shown.username,
        "old_rank": before.rank if before else None, "new_rank": after.rank if after else None,
        "old_score": before.score if before else None, "new_score": after.score if after else None,
        "band": shown.band, "is_me": shown.member_id == me, "cause": causes.get(shown.member_id, "shift"),
    }
    if shown.member_id == me and before is not None and after is not None:
        message["passed_by"] = passed
    return message

