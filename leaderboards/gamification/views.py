"""Gamification pages (mobile-first) and the dashboard's cards: badges, perks, challenges, and a
member's board of honour at ``/members/<username>/``.

The cards are refreshed on ``me.changed``. Challenges are POST-redirect-GET: creating one
re-renders the page with form errors on bad input (400); accept / decline / cancel call one
service each and report through messages; a challenge the member does not take part in is a 404.
``static/js/challenges.js`` keeps the standings (``[data-challenge]``) live on the page and the card.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.members.access import member_of
from accounts.members.models import User
from config.kernel.errors import DomainError, NotFound
from leaderboards.gamification import challenges
from leaderboards.gamification.badges import BadgeStatus, badges_overview, newest_first
from leaderboards.gamification.challenges import ChallengeCode, ChallengeError
from leaderboards.gamification.honour import honour_for
from leaderboards.gamification.models import Challenge
from leaderboards.gamification.perks import member_perks
from social.graph import selectors as social_selectors

#: Earned badges shown on the dashboard card.
CARD_RECENT = 3


@login_required
def badges_page(request: HttpRequest) -> HttpResponse:
    overview = badges_overview(member=member_of(request))
    return render(request, "leaderboards/badges.html", {
        "earned": [s for s in overview if s.earned],
        "to_earn": [s for s in overview if not s.complete],
        "earned_count": sum(len(s.earned) for s in overview),
    })


def _closest(statuses: list[BadgeStatus]) -> BadgeStatus | None:
    """The badge with measurable progress that is nearest to done."""
    measured = [s for s in statuses if s.progress is not None and s.progress.goal > 0]
    if not measured:
        return None
    return max(measured, key=lambda s: s.progress.current / s.progress.goal if s.progress else 0)


def badges_context(member: User) -> dict[str, Any]:
    """The dashboard's badges card: the latest badges and the one closest to being earned."""
    overview = badges_overview(member=member)
    earned = newest_first(overview)
    return {"badges_card": {"recent": earned[:CARD_RECENT], "count": len(earned), "next": _closest(overview)}}


def perks_context(member: User) -> dict[str, Any]:
    """``perks``: the member's ``perks.MemberPerks`` (reads only)."""
    return {"perks": member_perks(member=member)}


@login_required
def perks_page(request: HttpRequest) -> HttpResponse:
    return render(request, "leaderboards/perks.html", perks_context(member_of(request)))


def _not_found(request: HttpRequest) -> HttpResponse:
    """The site's own 404 page, in development too (Django's technical page is for URLs)."""
    return render(request, "404.html", status=404)


def honour_page(request: HttpRequest, username: str) -> HttpResponse:
    try:
        honour = honour_for(username=username, viewer=request.user)
    except NotFound:
        return _not_found(request)
    return render(request, "leaderboards/honour.html", {"honour": honour})


#: Up to this many candidates the form lists them as checkboxes; more, and the member types
#: their usernames (one box per opponent, suggested from the friends as they type).
PICK_FROM_LIST_MAX = 8


class ChallengeForm(forms.Form):
    opponents = forms.MultipleChoiceField(
        label="Friends to challenge", widget=forms.CheckboxSelectMultiple,
        help_text=f"Pick 1 to {challenges.MAX_OPPONENTS} friends.")

    def __init__(self, data: QueryDict | None = None, *, friends: list[str], **kwargs: Any) -> None:
        picked: list[str] = []
        if data is not None:  # the username boxes left empty are no choice
            data = data.copy()
            picked = [v.strip() for v in data.getlist("opponents") if v.strip()]
            data.setlist("opponents", picked)
        super().__init__(data, **kwargs)
        self.fields["opponents"].choices = [(name, name) for name in friends]  # type: ignore[attr-defined]
        self.search = len(friends) > PICK_FROM_LIST_MAX
        #: The username boxes of the search form, refilled with what was typed.
        self.slots = [picked[i] if i < len(picked) else "" for i in range(challenges.MAX_OPPONENTS)]

    def clean_opponents(self) -> list[str]:
        picked: list[str] = self.cleaned_data["opponents"]
        if len(picked) > challenges.MAX_OPPONENTS:
            raise forms.ValidationError(f"Pick at most {challenges.MAX_OPPONENTS} friends.",
                                        code=ChallengeCode.TOO_MANY_OPPONENTS)
        return picked


def _card(challenge: Challenge, me: User, friends: set[int]) -> dict[str, Any]:
    """A challenge for the templates: the API's shape plus datetimes to format. ``friends``:
    ``me``'s friend ids, read once per page."""
    card = challenges.challenge_dict(challenge, viewer_id=me.pk, friends=friends)
    card.update({
        "ends": challenge.ends_at,
        "starts": challenge.starts_at if challenge.status != Challenge.Status.OPEN else None,
        "join_until_at": challenges.join_deadline(challenge),
        "mine": challenge.created_by_id == me.pk,
        "others": [p["username"] for p in card["participants"] if p["username"] != me.username],
        "pending": [p["username"] for p in card["participants"] if p["answer"] == "invited"],
    })
    return card


@login_required
def challenges_page(request: HttpRequest) -> HttpResponse:
    me = member_of(request)
    data = request.POST if request.method == "POST" else None  # an empty POST is still a bound form
    form = ChallengeForm(data, friends=challenges.challenge_candidates(member=me))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                opponents = challenges.opponents_by_username(member=me, usernames=form.cleaned_data["opponents"])
                created = challenges.challenge_create(by=me, opponents=opponents)
            except ChallengeError as exc:
                form.add_error("opponents", exc.detail)
            else:
                messages.success(request, f"Challenge sent to {', '.join(o.username for o in opponents)}: "
                                          f"it starts when one of them accepts and ends "
                                          f"{created.ends_at:%a %d %b %H:%M} UTC.")
                return redirect("challenges")
        status = 400
    board = challenges.challenges_board(member=me)
    friends = social_selectors.friend_ids(member_id=me.pk)
    context = {
        "form": form,
        "incoming": [_card(c, me, friends) for c in board.incoming],
        "waiting": [_card(c, me, friends) for c in board.waiting],
        "active": [_card(c, me, friends) for c in board.active],
        "past": [_card(c, me, friends) for c in board.past],
        "max_opponents": challenges.MAX_OPPONENTS,
        "max_live": challenges.MAX_LIVE_CHALLENGES,
        "me": me,
    }
    return render(request, "leaderboards/challenges.html", context, status=status)


def _act(request: HttpRequest, pk: int, action: Callable[[Challenge, User], object], success: str) -> HttpResponse:
    me = member_of(request)
    try:
        challenge = challenges.challenge_for_member(member=me, challenge_id=pk)
        action(challenge, me)
    except NotFound:
        return _not_found(request)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, success)
    return redirect("challenges")


@login_required
@require_POST
def challenge_accept(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, lambda c, me: challenges.challenge_answer(challenge=c, member=me, accept=True),
                "Challenge accepted: may the best saver win.")


@login_required
@require_POST
def challenge_decline(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, lambda c, me: challenges.challenge_answer(challenge=c, member=me, accept=False),
                "Challenge declined.")


@login_required
@require_POST
def challenge_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, lambda c, me: challenges.challenge_cancel(challenge=c, by=me), "Challenge cancelled.")


def challenges_context(member: User) -> dict[str, Any]:
    """The dashboard card: running challenges with standings, and invitations waiting."""
    board = challenges.challenges_board(member=member)
    friends = social_selectors.friend_ids(member_id=member.pk) if board.active else set()
    return {
        "challenge_cards": [_card(c, member, friends) for c in board.active],
        "challenge_invites": len(board.incoming),
    }

