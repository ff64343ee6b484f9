"""The board of honour: a member's profile page with their badges, band, streak and
member-since, shown as far as their privacy settings allow (DESIGN.md §2.5, §9).

Who sees what (``honour_for``):

* the member themself: everything, including their exact score;
* their friends: everything, including the score (friends already see each other's scores);
* anyone else, signed in or not: only when the member chose "Everyone"
  (``User.profile_visibility``), and then the band but never the exact score;
* everyone but the member sees each badge with the catalogue's description, never the award's
  own explanation (it can name the score, a friend or a moderator's decision);
* nobody but the member, when they are in private mode (they left the social game), frozen, or
  inactive; and a block either way hides each from the other.

Everyone who may not see a profile gets the same ``NotFound`` as for a username that does not
exist, so the page never confirms that an account is there.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date

from django.contrib.auth.models import AnonymousUser

from accounts.members.models import User
from config.kernel.errors import NotFound
from leaderboards.gamification.badges import (
    BY_CODE,
    CHALLENGE_WON,
    DISPUTE_RESOLVED,
    FIRST_FRIEND,
    INVITATIONS,
    EarnedBadge,
    badges_of,
)
from scoring.ledger.streaks import member_streak
from social.graph import selectors as social


@dataclass(frozen=True)
class Honour:
    member: User
    is_me: bool
    is_friend: bool
    #: None unless the viewer may see the exact score (the member, or a friend).
    score: int | None
    band: str
    member_since: date
    streak_months: int
    best_streak_months: int
    badges: list[EarnedBadge]

    def as_dict(self) -> dict[str, object]:
        return {
            "username": self.member.username,
            "is_me": self.is_me,
            "is_friend": self.is_friend,
            "score": self.score,
            "band": self.band,
            "member_since": self.member_since.isoformat(),
            "streak": {"current_months": self.streak_months, "best_months": self.best_streak_months},
            "badges": [badge.as_dict() for badge in self.badges],
        }


def honour_for(*, username: str, viewer: User | AnonymousUser | None) -> Honour:
    """The profile of ``username`` as ``viewer`` (anonymous or None: signed out) may see it, or
    ``NotFound``."""
    member = social.member_by_username(username=username)
    viewer_id = viewer.pk if viewer is not None and viewer.is_authenticated else None
    is_me = viewer_id == member.pk
    is_friend = False
    if not is_me:
        if member.private_mode or member.is_frozen:
            raise NotFound()
        if viewer_id is not None:
            if viewer_id in social.blocked_ids(member_id=member.pk):
                raise NotFound()
            is_friend = social.active_friendship_between(first_id=viewer_id, second_id=member.pk) is not None
        if not is_friend and member.profile_visibility != User.Visibility.PUBLIC:
            raise NotFound()
    streak = member_streak(member=member)
    return Honour(
        member=member,
        is_me=is_me,
        is_friend=is_friend,
        score=member.score if (is_me or is_friend) else None,
        band=member.score_band,
        member_since=member.date_joined.date(),
        streak_months=streak.current_months,
        best_streak_months=streak.best_months,
        badges=badges_of(member=member) if is_me else [_public(b) for b in badges_of(member=member)],
    )


#: What others read of a badge: the catalogue's descriptions speak to the member ("You made your
#: first friend"); these speak about them. Band badges are worded from the band (``_public``).
ABOUT_THEM = {
    FIRST_FRIEND: "Made a first friend on Credo.",
    INVITATIONS: "Friends joined Credo through their invitations.",
    DISPUTE_RESOLVED: "A dispute of theirs was decided.",
    CHALLENGE_WON: "Gained the most points in a challenge between friends.",
}


def _public(badge: EarnedBadge) -> EarnedBadge:
    """A badge as others see it, in the web page and the API alike: words about the member
    instead of the award's own explanation, which is written for the member (it can hold their
    exact score, a friend's name or a moderator's decision)."""
    definition = BY_CODE.get(badge.badge)
    text = ABOUT_THEM.get(badge.badge)
    if text is None and definition is not None and definition.lowest:  # a band badge
        text = f"Their score reached the {definition.name.removesuffix(' band')} band ({definition.lowest} and above)."
    if text is None:
        text = definition.description if definition else ""
    return dataclasses.replace(badge, explanation=text)
