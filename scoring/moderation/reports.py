"""The moderators' "suspicious patterns" report (reads only).

Three signals of friend farming and bad data, each a list of rows for a person to judge (not a
verdict):

* fresh friendships with large score gaps, grouped per member: a low scorer collecting high
  scorers (or the reverse) in the last ``FRESH_DAYS`` days;
* invitation bursts: members who created many invitations within one day;
* partners sending outliers: a partner whose missed-payment rate, over the last
  ``PARTNER_WINDOW_DAYS`` days, is far above the other partners'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDay
from django.utils import timezone

from scoring.ingestion.models import Event, Partner
from social.graph.models import Friendship
from social.invitations.models import Invitation

FRESH_DAYS = 14
SCORE_GAP = 150  # points between the two friends' scores
MIN_GAP_FRIENDSHIPS = 3  # fresh, large-gap friendships per member to be listed
BURST_INVITATIONS = 10  # invitations created by one member in one day
PARTNER_WINDOW_DAYS = 30
PARTNER_MIN_EVENTS = 20
PARTNER_RATE_RATIO = 2.0  # missed rate this many times the others'
PARTNER_MIN_RATE = 0.2


@dataclass
class GapCluster:
    member_id: int
    username: str
    score: int | None
    friends: list[tuple[str, int | None]] = field(default_factory=list)


@dataclass(frozen=True)
class InvitationBurst:
    username: str
    day: str
    count: int


@dataclass(frozen=True)
class PartnerOutlier:
    partner: str
    payments: int
    missed: int
    rate: float
    others_rate: float


@dataclass(frozen=True)
class Report:
    gap_clusters: list[GapCluster]
    invitation_bursts: list[InvitationBurst]
    partner_outliers: list[PartnerOutlier]
    fresh_days: int = FRESH_DAYS
    score_gap: int = SCORE_GAP
    burst: int = BURST_INVITATIONS
    partner_window_days: int = PARTNER_WINDOW_DAYS


def gap_clusters(*, now=None) -> list[GapCluster]:  # type: ignore[no-untyped-def]
    since = (now or timezone.now()) - timedelta(days=FRESH_DAYS)
    rows = (
        Friendship.objects.filter(ended_at__isnull=True, accepted_at__gte=since)
        .select_related("member_a", "member_b")
        .only("member_a__username", "member_a__score", "member_b__username", "member_b__score")
    )
    clusters: dict[int, GapCluster] = {}
    for f in rows:
        a, b = f.member_a, f.member_b
        if a.score is None or b.score is None or abs(a.score - b.score) < SCORE_GAP:
            continue
        for me, other in ((a, b), (b, a)):
            cluster = clusters.setdefault(me.pk, GapCluster(me.pk, me.username, me.score))
            cluster.friends.append((other.username, other.score))
    listed = [c for c in clusters.values() if len(c.friends) >= MIN_GAP_FRIENDSHIPS]
    for c in listed:
        c.friends.sort()
    return sorted(listed, key=lambda c: (-len(c.friends), c.username))


def invitation_bursts(*, now=None) -> list[InvitationBurst]:  # type: ignore[no-untyped-def]
    since = (now or timezone.now()) - timedelta(days=FRESH_DAYS)
    rows = (
        Invitation.objects.filter(created_at__gte=since)
        .annotate(day=TruncDay("created_at"))
        .values("inviter__username", "day")
        .annotate(n=Count("id"))
        .filter(n__gte=BURST_INVITATIONS)
        .order_by("-n", "inviter__username")
    )
    return [InvitationBurst(r["inviter__username"], f"{r['day']:%Y-%m-%d}", r["n"]) for r in rows]


def partner_outliers(*, now=None) -> list[PartnerOutlier]:  # type: ignore[no-untyped-def]
    since = (now or timezone.now()) - timedelta(days=PARTNER_WINDOW_DAYS)
    payments = Q(kind__in=[Event.Kind.BILL_PAYMENT, Event.Kind.CARD_REPAYMENT], received_at__gte=since)
    per_partner = {
        r["partner_id"]: (r["n"], r["missed"])
        for r in Event.objects.filter(payments).values("partner_id")
        .annotate(n=Count("id"), missed=Count("id", filter=Q(missed=True)))
    }
    total_n = sum(n for n, _ in per_partner.values())
    total_missed = sum(m for _, m in per_partner.values())
    names = dict(Partner.objects.filter(pk__in=list(per_partner)).values_list("pk", "name"))
    out = []
    for partner_id, (n, missed) in per_partner.items():
        if n < PARTNER_MIN_EVENTS:
            continue
        others_n, others_missed = total_n - n, total_missed - missed
        rate = missed / n
        others = others_missed / others_n if others_n else 0.0
        if rate >= PARTNER_MIN_RATE and (others_n == 0 or rate >= PARTNER_RATE_RATIO * others):
            out.append(PartnerOutlier(names.get(partner_id, str(partner_id)), n, missed, rate, others))
    return sorted(out, key=lambda p: -p.rate)


def suspicious_patterns() -> Report:
    return Report(gap_clusters(), invitation_bursts(), partner_outliers())



