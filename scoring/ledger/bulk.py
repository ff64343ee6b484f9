"""Scoring many members' pending events at once: the batch path of the live pipeline
(``services.members_score_pending``) and of ``seed_demo``.

``members_score_pending_bulk`` writes exactly what calling ``services.member_score_pending``
once per member writes — the same ledger rows (cause, event, old/new score, base, social
points, factors, explanation, in the same order), the same score states, the same denormalised
scores, every pending event marked scored with one more attempt — only timestamps differ (one
``now`` per batch). ``tests/scoring/demo/test_demo_world.py`` checks the equality on a seeded
world. It exists because the per-member path costs ~50 ms a member (one transaction, ~15
queries and a per-event ``bulk_update``), i.e. minutes for the 4,039-member demo world; here a
batch of members shares a transaction and a dozen statements whatever its size (seven reads, one
statement per kind of write; no ORM query is built per member: that costs ≈ 1 ms of CPU here),
while the scoring itself is the same code: ``compute_base`` after each event, ledger rows built
by ``rows.ledger_row``, pending events made facts by ``selectors.event_fact`` (the history is
read as plain rows, the same facts).

Differences, on purpose:

* **Announcements are coalesced.** With ``announce=True`` the batch records its follow-up in the
  same transaction (``follow_up.changes_record``) and sends ONE ``scores_changed``
  after commit listing every member whose score moved (old = before the batch, new = after),
  and ONE ``bases_changed`` listing every member whose base moved (with ``payments_on_time``:
  those of them whose events included a payment that may be on time), where the per-member path
  sends a ``score_changed`` per write (two for a member scored for the first time).
  Listeners only read the latest state, so they end in the same place. With ``announce=False``
  nothing is announced: the caller must rebuild derived state from the truth afterwards
  (``manage.py contagion_rebuild``; boards rebuild from the database) — what a bulk load wants.
* **Errors are not isolated per member**: a failure rolls back its batch and raises. The live
  pipeline (``services.members_score_pending``, behind ``score_dirty_members``) then scores the
  batch's members one at a time, so the culprit's events are recorded as failing.

Preconditions: no concurrent scorer of the same members is expected to make progress meanwhile
(the members' rows are locked per batch, as in the per-member path).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from allauth.account.models import EmailAddress
from django.db import connection, transaction
from django.utils import timezone

from accounts.members import selectors as member_selectors
from accounts.members.models import User
from config.kernel import locks
from config.kernel.bulk_sql import rows_update
from config.kernel.chunks import chunks
from scoring.ingestion.models import Event, Partner
from scoring.ledger import follow_up, selectors
from scoring.ledger.models import ScoreChange, ScoreState, scoring_date
from scoring.ledger.rows import (
    Snapshot,
    ageing_step,
    any_on_time,
    event_explanation,
    ledger_row,
    starting_explanation,
)
from scoring.ledger.signals import ScoreMove
from scoring.model import EventFact, ProfileFacts, band_for, compute_base
from scoring.webhooks.models import WebhookType
from scoring.webhooks.outbox import events_record

BATCH = 200
#: Rows per INSERT statement and ids per ``IN (…)``.
CHUNK = 500


def members_score_pending_bulk(*, member_ids: Iterable[int], announce: bool = True, batch: int = BATCH,
                               progress: Any = None, now: datetime | None = None) -> int:
    """Apply every pending event of these members, ``batch`` members per transaction.

    Returns how many events were applied. ``progress``: optional tqdm-like bar, advanced by the
    number of members of each batch. ``now``: the moment of the scoring (default: the clock);
    rows are dated with it and scores computed for its date — a replay of history passes its own.
    """
    ids = sorted(set(member_ids))
    applied = 0
    for chunk in chunks(ids, batch):
        applied += _score_batch(list(chunk), announce=announce, now=now)
        if progress is not None:
            progress.update(len(chunk))
    return applied


# --- plain SQL for the batch's updates (``bulk_sql``) -----------------------------------------------
# (Inserts stay ``bulk_create``: on PostgreSQL it sends one array per column, cheaper than
# anything hand-written with a parameter per value.)


def _events_mark_scored(event_ids: Sequence[int], now: datetime) -> None:
    """``status = scored, scored_at = now, attempts = attempts + 1`` for these events."""
    meta: Any = Event._meta
    qn = connection.ops.quote_name
    status, scored_at, attempts = (meta.get_field(n) for n in ("status", "scored_at", "attempts"))
    with connection.cursor() as cursor:
        for chunk in chunks(event_ids, CHUNK):
            cursor.execute(
                f"UPDATE {qn(meta.db_table)} SET {qn(status.column)} = %s, {qn(scored_at.column)} = %s,"  # noqa: S608
                f" {qn(attempts.column)} = {qn(attempts.column)} + 1"
                f" WHERE {qn(meta.pk.column)} IN ({', '.join(['%s'] * len(chunk))})",
                [Event.Status.SCORED, scored_at.get_db_prep_save(now, connection), *chunk])


# --- the batch's reads ------------------------------------------------------------------------------

#: What the model needs of a scored event (``selectors.event_fact``), in this order.
_FACT_FIELDS = ("pk", "member_id", "partner_id", "kind", "occurred_at", "amount", "due_date", "paid_date", "missed",
                "amount_paid")


def _verified(members: Sequence[User]) -> set[int]:
    """Ids of the members whose e-mail address is verified — what ``accounts.members.selectors.email_verified``
    says (a verified ``EmailAddress`` of the member equal to their e-mail, ignoring case) — with
    ONE query for the batch instead of one per member. A verified address equal to the e-mail
    byte for byte decides at once; one that differs (in case only, or altogether) is left to
    ``email_verified`` itself, so the database's own case rules decide exactly as before."""
    with_email = {m.pk: m for m in members if m.email}
    addresses: dict[int, list[str]] = defaultdict(list)
    for user_id, address in EmailAddress.objects.filter(user_id__in=list(with_email), verified=True).values_list(
            "user_id", "email"):
        addresses[user_id].append(address)
    verified = set()
    for pk, listed in addresses.items():
        member = with_email[pk]
        if member.email in listed or member_selectors.email_verified(user=member):
            verified.add(pk)
    return verified


def scored_facts(member_ids: Sequence[int], partners: dict[int, Partner]) -> dict[int, list[EventFact]]:
    """Every scored event of these members as the model's facts, in ONE query: plain rows (no
    model instance per event), the same facts as ``selectors.event_fact`` makes of the rows."""
    scored: dict[int, list[EventFact]] = defaultdict(list)
    for pk, member_id, partner_id, kind, occurred_at, amount, due_date, paid_date, missed, amount_paid in (
            Event.objects.filter(member_id__in=member_ids, status=Event.Status.SCORED).order_by()
            .values_list(*_FACT_FIELDS)):
        scored[member_id].append(EventFact(kind=kind, occurred_at=occurred_at, amount=amount, due_date=due_date,
                                           paid_date=paid_date, missed=missed, amount_paid=amount_paid, ref=str(pk),
                                           label=partners[partner_id].name))
    return scored


def profiles(members: Sequence[User]) -> dict[int, ProfileFacts]:
    """The profile facts of these members, with one query for their verified e-mails."""
    verified = _verified(members)
    return {m.pk: _profile(m, email_verified=m.pk in verified) for m in members}


def _profile(member: User, *, email_verified: bool) -> ProfileFacts:
    """``selectors.profile_facts(member=member)``, with the e-mail check done for the batch
    (``_verified``); the other fields as ``accounts.members.selectors.profile_completeness`` reads them."""
    return ProfileFacts(email_verified=bool(member.email) and email_verified, phone=bool(member.phone.strip()),
                        city=bool(member.city.strip()), avatar=bool(member.avatar), bio=bool(member.bio.strip()))


@transaction.atomic
def _score_batch(member_ids: list[int], *, announce: bool, now: datetime | None = None) -> int:
    """Score one batch in one transaction, in a number of statements that does not grow with the
    batch (``CHUNK`` rows per INSERT and per event UPDATE aside): seven reads — the members
    (locked), their score states, the partners, the verified e-mails, the pending events, the
    scored ones, the partners listening for ``event.scored`` — then the ledger rows, new states,
    changed states, moved members, applied events (and their webhooks, if any partner listens),
    one statement each. No ORM query is built per member."""
    members = locks.members_lock(member_ids)
    states = {s.member_id: s for s in ScoreState.objects.filter(member_id__in=member_ids)}
    # Partners are few: one lookup each instead of a join per event.
    partners = {p.pk: p for p in Partner.objects.all()}
    verified = _verified(members)
    pending: dict[int, list[Event]] = defaultdict(list)
    for event in (Event.objects.filter(member_id__in=member_ids, status=Event.Status.PENDING)
                  .order_by("member_id", "occurred_at", "id")):
        event.partner = partners[event.partner_id]
        pending[event.member_id].append(event)
    scored = scored_facts(member_ids, partners)

    now = now or timezone.now()
    today = scoring_date(now)
    rows: list[ScoreChange] = []
    new_states: list[ScoreState] = []
    state_values: list[tuple[Any, ...]] = []
    user_values: list[tuple[Any, ...]] = []
    announcements: list[tuple[int, Snapshot, Snapshot, ScoreChange]] = []
    applied: list[Event] = []
    on_time: set[int] = set()  # members whose change came with a payment that may be on time
    for member in members:
        state = states.get(member.pk)
        profile = _profile(member, email_verified=member.pk in verified)
        facts = scored[member.pk]
        member_rows: list[ScoreChange] = []
        if state is None:
            # What member_state_ensure writes: the starting score, from scored events and profile.
            as_of = today
            result = compute_base(facts, profile, as_of=as_of)
            row, current = ledger_row(member=member, cause=ScoreChange.Cause.PROFILE, before=Snapshot.of(None),
                                      result=result, social=0.0, explanation=starting_explanation(result))
            member_rows.append(row)
            first = Snapshot.of(None)
        else:
            # What member_score_pending writes: time's row first, when it moved the score.
            as_of = max(state.as_of, today)
            first = Snapshot.of(state)
            ageing, current, _ = ageing_step(member=member, before=first, facts=facts, profile=profile,
                                             since=state.as_of, as_of=as_of)
            if ageing is not None and pending[member.pk]:
                member_rows.append(ageing)
            elif not pending[member.pk]:
                current = first
        for event in pending[member.pk]:
            fact = selectors.event_fact(event)
            facts.append(fact)
            result = compute_base(facts, profile, as_of=as_of)
            row, after = ledger_row(member=member, cause=ScoreChange.Cause.EVENT, before=current, result=result,
                                    social=current.social, event=event, explanation="")
            row.explanation = event_explanation(fact, row.delta)
            member_rows.append(row)
            current = after
            event.scored_at = now  # as _events_mark_scored writes it, for the partner's webhook
            applied.append(event)
        if not member_rows:
            continue
        # The facts the change added: every scored one for a starting score, else the pending ones.
        if any_on_time(facts if state is None else facts[len(facts) - len(pending[member.pk]):]):
            on_time.add(member.pk)
        rows.extend(member_rows)
        assert current.score is not None and current.base is not None and current.factors is not None
        for row in member_rows:
            row.created_at = now
        if state is None:
            new_states.append(ScoreState(member=member, base=current.base, social=current.social,
                                         score=current.score, factors=current.factors, as_of=as_of, updated_at=now))
        else:
            state_values.append((current.base, current.social, current.score, current.factors, as_of, now,
                                 member.pk))
        if current.score != first.score:
            user_values.append((current.score, band_for(current.score), now, member.pk))
        announcements.append((member.pk, first, current, member_rows[-1]))

    ScoreChange.objects.bulk_create(rows, batch_size=CHUNK)
    ScoreState.objects.bulk_create(new_states, batch_size=CHUNK)
    rows_update(ScoreState, key="member", fields=("base", "social", "score", "factors", "as_of", "updated_at"),
                rows=state_values)
    rows_update(User, key="id", fields=("score", "score_band", "score_reached_at"), rows=user_values)
    _events_mark_scored([event.pk for event in applied], now)
    # Partners listening for event.scored hear of theirs (one read; one insert if any listen).
    events_record(events=applied, type=WebhookType.EVENT_SCORED, status=Event.Status.SCORED,
                  members={m.pk: m for m in members})
    if announce:
        moved_bases = [member_id for member_id, before, after, _ in announcements if after.base != before.base]
        follow_up.changes_record(
            moves=[_move(member_id, before, after, last) for member_id, before, after, last in announcements
                   if after.score != before.score],
            bases=moved_bases, payments_on_time=[member_id for member_id in moved_bases if member_id in on_time])
    return len(applied)


def _move(member_id: int, before: Snapshot, after: Snapshot, last: ScoreChange) -> ScoreMove:
    assert after.score is not None
    return {"member_id": member_id, "old_score": before.score, "new_score": after.score, "cause": str(last.cause),
            "explanation": last.explanation}
