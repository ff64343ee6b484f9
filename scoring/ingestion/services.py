"""Partner event ingestion: validation, consent, exactly-once storage, idempotency keys.

The flow of one request (DESIGN.md §6, §8):

1. the signature is checked (``partners``) — nothing is written for a bad one;
2. the ``Idempotency-Key`` is claimed in its own short transaction (``in_flight``);
3. the events are validated and stored ``pending`` in the same transaction that records the
   response under the key; scoring is enqueued after commit;
4. a replay of the same key and body returns the recorded response; another body is 422;
   a request still in flight is 409.

An event sent again under a new key is answered as a duplicate (its first row, ``duplicate:
true``) when it is the same event, and refused with 409 ``conflicting_duplicate`` and the stored
event when its content differs (same ``external_id``, another amount…): the first version stays,
nothing is silently dropped. The transaction of step 3 is retried when the database breaks a lock
conflict or loses the connection (``config.kernel.retry``), so a lock conflict is never a 5xx: after
the retries it is 409 ``lock_conflict``; a database that stays away is 503 (the kernel's
``DatabaseUnavailableMiddleware``).

The hot path is written for round trips (docs/benchmarks.md, "Ingestion and scoring"): here an
ORM query costs ≈ 1 ms of CPU to build against ≈ 0.1 ms for the same statement sent as SQL, so
the statements every request makes — claim the key, check member and consent together, insert
the events, record the response — are single hand-written SQL statements (``INSERT … ON
CONFLICT DO NOTHING RETURNING``, valid on PostgreSQL and SQLite), without savepoints. The rare
branches (a replayed or busy key, a duplicate event) use the ORM. A single event costs 7
statements: key lookup, claim, BEGIN, member + consent, event insert, response, COMMIT.
"""

from __future__ import annotations

import copy
import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, connections, models, transaction
from django.utils import timezone
from rest_framework import serializers

from accounts.members.models import User
from config.kernel import json_limits
from config.kernel.after_commit import call_on_commit, enqueue_on_commit
from config.kernel.chunks import chunks
from config.kernel.errors import validation_error_body
from config.kernel.retry import is_lock_conflict, retrying
from config.kernel.serializers import StrictSerializer
from scoring.ingestion import dirty
from scoring.ingestion.errors import Code
from scoring.ingestion.models import Event, IdempotencyRecord, Partner, PartnerConsent

MAX_BATCH = 500
EARLIEST = date(2000, 1, 1)
CLOCK_SKEW = timedelta(minutes=5)
IN_FLIGHT_LEASE = timedelta(seconds=60)
#: Tries of a request's transaction when the database breaks a lock conflict or the connection.
ATTEMPTS = 5
#: What decides whether a re-sent event is the same event as the one stored.
SAME_EVENT_FIELDS = ("member_id", "kind", "amount", "currency", "occurred_at", "due_date", "paid_date", "missed",
                     "amount_paid", "merchant_category")


class EventSerializer(StrictSerializer):
    """One event in a partner's request. Errors name the field and carry a stable code."""

    member = serializers.CharField(max_length=150)
    kind = serializers.CharField(max_length=20)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True)
    currency = serializers.RegexField(r"^[A-Z]{3}\Z", error_messages={"invalid": "Use a 3-letter ISO 4217 code."})
    occurred_at = serializers.DateTimeField()
    external_id = serializers.CharField(max_length=100)
    due_date = serializers.DateField(required=False)
    paid_date = serializers.DateField(required=False)
    missed = serializers.BooleanField(required=False, default=False)
    amount_paid = serializers.DecimalField(max_digits=14, decimal_places=2, required=False)
    merchant_category = serializers.CharField(max_length=40, required=False, allow_blank=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        # DRF deep-copies the declared fields for every serializer, re-creating each one from its
        # arguments: ≈ 10 % of a single-event request's CPU here. A shallow copy is all these
        # fields need: binding sets attributes of the copy only (name, parent, label, source),
        # and validating reads the validators and messages they share without changing them.
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}

    def to_internal_value(self, data: Any) -> Any:
        # DRF calls a malformed decimal "invalid"; partners asked for one code for amounts.
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            detail: Any = exc.detail
            if isinstance(detail, dict):
                for name in ("amount", "amount_paid"):
                    if name in detail:
                        detail[name] = [serializers.ErrorDetail(str(m), code=Code.INVALID_AMOUNT)
                                        for m in detail[name]]
            raise serializers.ValidationError(detail) from exc

    def validate_kind(self, value: str) -> str:
        if value not in Event.Kind.values:
            raise serializers.ValidationError(
                f"Unknown kind; use one of {', '.join(Event.Kind.values)}.", code=Code.UNKNOWN_KIND
            )
        return value

    def validate_amount(self, value: Decimal) -> Decimal:
        # A statement can be 0.00 (a month without spending); a purchase cannot (see validate).
        if value < 0:
            raise serializers.ValidationError("Must not be negative.", code=Code.INVALID_AMOUNT)
        return value

    def validate_amount_paid(self, value: Decimal) -> Decimal:
        if value < 0:
            raise serializers.ValidationError("Must not be negative.", code=Code.INVALID_AMOUNT)
        return value

    def validate_occurred_at(self, value: datetime) -> datetime:
        if value > timezone.now() + CLOCK_SKEW:
            raise serializers.ValidationError("Is in the future.", code=Code.IN_FUTURE)
        if value.date() < EARLIEST:
            raise serializers.ValidationError(f"Is before {EARLIEST}.", code=Code.OUT_OF_RANGE)
        return value

    def validate_due_date(self, value: date) -> date:
        if value < EARLIEST or value > timezone.now().date() + timedelta(days=366):
            raise serializers.ValidationError("Is out of range.", code=Code.OUT_OF_RANGE)
        return value

    def validate_paid_date(self, value: date) -> date:
        if value > (timezone.now() + CLOCK_SKEW).date():
            raise serializers.ValidationError("Is in the future.", code=Code.IN_FUTURE)
        if value < EARLIEST:
            raise serializers.ValidationError("Is out of range.", code=Code.OUT_OF_RANGE)
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = attrs["kind"]
        if kind == Event.Kind.PURCHASE and attrs["amount"] == 0:
            raise serializers.ValidationError({"amount": ["A purchase must be greater than zero."]},
                                              code=Code.INVALID_AMOUNT)
        if kind == Event.Kind.PURCHASE:
            for name in ("due_date", "paid_date", "amount_paid"):
                if name in attrs:
                    refused: dict[str, Any] = {name: ["Purchases do not take this field."]}
                    raise serializers.ValidationError(refused, code=Code.NOT_FOR_KIND)
            if attrs.get("missed"):
                raise serializers.ValidationError({"missed": ["Purchases do not take this field."]},
                                                  code=Code.NOT_FOR_KIND)
            return attrs
        if "due_date" not in attrs:
            raise serializers.ValidationError({"due_date": ["Required for bills and card repayments."]},
                                              code="required")
        paid, missed = "paid_date" in attrs, bool(attrs.get("missed"))
        if paid == missed:
            raise serializers.ValidationError(
                {"paid_date": ["Give either paid_date or missed: true (exactly one)."]}, code=Code.PAYMENT_OUTCOME
            )
        if paid and attrs["paid_date"] < attrs["due_date"] - timedelta(days=366):
            raise serializers.ValidationError({"paid_date": ["Is more than a year before due_date."]},
                                              code=Code.OUT_OF_RANGE)
        return attrs


class BatchSerializer(StrictSerializer):
    events = serializers.ListField(child=serializers.DictField(), allow_empty=False)

    def validate_events(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(value) > MAX_BATCH:
            raise serializers.ValidationError(f"At most {MAX_BATCH} events per batch.", code=Code.BATCH_TOO_LARGE)
        return value


class NoConsent(Exception):
    def __init__(self, usernames: list[str]) -> None:
        super().__init__(usernames)
        self.usernames = usernames


class ConflictingDuplicate(Exception):
    """Item ``index`` re-sends an accepted event (its ``external_id``) with other content:
    ``fields`` differ from ``stored`` (None: the other version is earlier in the same batch)."""

    def __init__(self, index: int, stored: Event | None, fields: list[str]) -> None:
        super().__init__(index, fields)
        self.index, self.stored, self.fields = index, stored, fields

    def detail(self) -> str:
        names = ", ".join(name.removesuffix("_id") for name in self.fields)
        where = "earlier in this batch" if self.stored is None else "before"
        return (f"An event with this external_id was accepted {where} with another {names}; the stored event is "
                "unchanged. Send a correction as a new event (a new external_id), or dispute the stored one.")


def _differences(stored: Event, sent: Event) -> list[str]:
    return [name for name in SAME_EVENT_FIELDS if getattr(stored, name) != getattr(sent, name)]


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any]


def event_representation(event: Event, *, duplicate: bool = False) -> dict[str, Any]:
    return {
        "id": event.pk,
        "external_id": event.external_id,
        "member": event.member.username,
        "kind": event.kind,
        "status": event.status,
        "duplicate": duplicate,
    }


def error(status: int, code: str, detail: str, **extra: Any) -> Outcome:
    return Outcome(status, {"code": code, "detail": detail, **extra})


def _validation_outcome(exc: serializers.ValidationError) -> Outcome:
    return Outcome(400, validation_error_body(exc.detail))


def _parse(body: bytes) -> Any:
    try:
        return json_limits.loads(body)  # too deep, too large or not JSON: 400 / 413, never a 500
    except (json_limits.Malformed, json_limits.TooDeep, json_limits.TooLarge) as exc:
        raise serializers.ValidationError(
            {"non_field_errors": [serializers.ErrorDetail(exc.detail, code=exc.code)]}
        ) from exc


def _insert_new(objs: Sequence[models.Model], *, unique: Sequence[str], key: str) -> dict[Any, int]:
    """INSERT ``objs`` (one model), skipping every row that would break the unique constraint on
    the ``unique`` fields (``ON CONFLICT … DO NOTHING``); return ``{row's <key>: pk}`` for the
    rows inserted, whose ``pk`` is also set. One statement per batch: no savepoint is needed,
    and a concurrent insert of the same row waits for the other transaction instead of failing.
    """
    fields, head, row, tail = _insert_sql(type(objs[0]), tuple(unique), key, connection.alias)
    inserted: dict[Any, int] = {}
    size = max(1, connection.ops.bulk_batch_size(fields, objs))
    with connection.cursor() as cursor:
        for chunk in chunks(objs, size):
            params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for obj in chunk for f in fields]
            cursor.execute(head + ", ".join([row] * len(chunk)) + tail, params)
            inserted.update({k: pk for pk, k in cursor.fetchall()})
    for obj in objs:
        if getattr(obj, key) in inserted:
            obj.pk = inserted[getattr(obj, key)]
            obj._state.adding = False
            obj._state.db = connection.alias
    return inserted


@functools.lru_cache(maxsize=16)
def _insert_sql(model: type[models.Model], unique: tuple[str, ...], key: str,
                alias: str) -> tuple[list[Any], str, str, str]:
    """``_insert_new``'s statement for ``model`` (built once per process: every request runs it):
    the fields written, the statement's head, one row's placeholders, its ON CONFLICT tail."""
    meta: Any = model._meta  # Options is loosely typed in the stubs (Field | ForeignObjectRel)
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    qn = connections[alias].ops.quote_name
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    head = f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) VALUES "  # noqa: S608 - our tables, values are parameters
    tail = (f" ON CONFLICT ({', '.join(qn(meta.get_field(n).column) for n in unique)}) DO NOTHING"
            f" RETURNING {qn(meta.pk.column)}, {qn(meta.get_field(key).column)}")
    return fields, head, row, tail


@functools.lru_cache(maxsize=64)
def _consenting_sql(members: int, alias: str) -> str:
    """``_members_consenting``'s statement for ``members`` usernames (built once per size)."""
    qn = connections[alias].ops.quote_name
    user, consent = User._meta, PartnerConsent._meta

    def col(meta: Any, name: str) -> str:
        return qn(meta.get_field(name).column)

    return (
        f"SELECT u.{col(user, 'id')}, u.{col(user, 'username')}, EXISTS (SELECT 1 FROM {qn(consent.db_table)} c"  # noqa: S608
        f" WHERE c.{col(consent, 'member')} = u.{col(user, 'id')} AND c.{col(consent, 'partner')} = %s"
        f" AND c.{col(consent, 'revoked_at')} IS NULL)"
        f" FROM {qn(user.db_table)} u WHERE u.{col(user, 'is_active')}"
        f" AND u.{col(user, 'username')} IN ({', '.join(['%s'] * members)})"
    )  # our tables; the values are parameters


def _members_consenting(*, partner: Partner, usernames: list[str]) -> dict[str, User]:
    """The active members named, each with whether a live consent to ``partner`` exists: one
    query. Raises ``ValidationError`` (unknown member) or ``NoConsent``; reads only."""
    with connection.cursor() as cursor:
        cursor.execute(_consenting_sql(len(usernames), connection.alias), [partner.pk, *usernames])
        rows = cursor.fetchall()
    # Only id and username are loaded: events need the id, responses the username.
    members = {name: User.from_db(connection.alias, ["id", "username"], (pk, name)) for pk, name, _ in rows}
    unknown = [name for name in usernames if name not in members]
    if unknown:
        raise serializers.ValidationError(
            {"member": [serializers.ErrorDetail(f"Unknown member {unknown[0]!r}.", code=Code.UNKNOWN_MEMBER)]}
        )
    consenting = {name for _, name, consented in rows if consented}
    refused = [name for name in usernames if name not in consenting]
    if refused:
        raise NoConsent(refused)
    return members


def events_store(*, partner: Partner, items: list[dict[str, Any]]) -> list[tuple[Event, bool]]:
    """Store validated events for consenting members; return (event, was_duplicate) in order.

    Raises ``UnknownMember`` / ``NoConsent`` before anything is written. An event whose
    (partner, external_id) already exists is not stored again: its first row is returned — if it
    is the same event; another content raises ``ConflictingDuplicate`` and nothing of the request
    is kept.
    Atomic; inside a caller's transaction it adds no savepoint (the checks that raise come
    before the transaction block, so a refused request leaves the caller's transaction usable).
    """
    usernames = sorted({item["member"] for item in items})
    members = _members_consenting(partner=partner, usernames=usernames)

    fresh: dict[str, Event] = {}
    sent: list[Event] = []
    for index, item in enumerate(items):
        event = Event(
            partner=partner, member=members[item["member"]], external_id=item["external_id"], kind=item["kind"],
            amount=item["amount"], currency=item["currency"], occurred_at=item["occurred_at"],
            due_date=item.get("due_date"), paid_date=item.get("paid_date"), missed=item.get("missed", False),
            amount_paid=item.get("amount_paid"), merchant_category=item.get("merchant_category", ""),
        )
        sent.append(event)
        first = fresh.setdefault(event.external_id, event)  # the same event twice in one batch is stored once
        if first is not event and (fields := _differences(first, event)):
            raise ConflictingDuplicate(index, None, fields)
    conflict: ConflictingDuplicate | None = None
    with transaction.atomic(savepoint=False):
        # In external_id order: two batches that share events wait for each other in one order.
        in_order: list[Event] = sorted(fresh.values(), key=lambda e: e.external_id)
        inserted = _insert_new(in_order, unique=("partner", "external_id"), key="external_id")
        # Events sent before (by an earlier request, or a concurrent one that committed first).
        existing = {
            e.external_id: e
            for e in Event.objects.select_related("member").filter(
                partner=partner, external_id__in=[ext for ext in fresh if ext not in inserted]
            )
        } if len(inserted) < len(fresh) else {}
        for index, event in enumerate(sent):
            stored = existing.get(event.external_id)
            if stored is not None and (fields := _differences(stored, event)):
                conflict = ConflictingDuplicate(index, stored, fields)
                break
        if conflict is not None:
            # All or nothing: what this request inserted goes (no one else has seen it yet).
            Event.objects.filter(pk__in=list(inserted.values())).delete()
        elif inserted:
            member_ids = sorted({fresh[ext].member_id for ext in inserted})
            if settings.SERVICES_MODE:
                # Batched by the periodic scorer (``dirty``), not a task per request.
                call_on_commit(dirty.members_mark, member_ids)
            else:
                enqueue_on_commit("scoring.ledger.tasks.score_members", member_ids)
    if conflict is not None:
        raise conflict
    results: list[tuple[Event, bool]] = []
    seen: set[str] = set()
    for item in items:
        ext = item["external_id"]
        if ext in inserted:
            results.append((fresh[ext], ext in seen))
        else:
            results.append((existing[ext], True))
        seen.add(ext)
    return results


def ingest_single(*, partner: Partner, body: bytes) -> Outcome:
    try:
        serializer = EventSerializer(data=_parse(body))
        serializer.is_valid(raise_exception=True)
        [(event, duplicate)] = events_store(partner=partner, items=[serializer.validated_data])
    except serializers.ValidationError as exc:
        return _validation_outcome(exc)
    except NoConsent as exc:
        return error(403, Code.NO_CONSENT, f"Member {exc.usernames[0]!r} has not connected {partner.name}.")
    except ConflictingDuplicate as exc:
        return error(409, Code.CONFLICTING_DUPLICATE, exc.detail(),
                     event=None if exc.stored is None else event_representation(exc.stored, duplicate=True))
    return Outcome(200 if duplicate else 201, event_representation(event, duplicate=duplicate))


def ingest_batch(*, partner: Partner, body: bytes) -> Outcome:
    try:
        batch = BatchSerializer(data=_parse(body))
        batch.is_valid(raise_exception=True)
        items = batch.validated_data["events"]
        serializer = EventSerializer(data=items, many=True)
        if not serializer.is_valid():
            raw = serializer.errors
            indexed = raw.items() if isinstance(raw, dict) else enumerate(raw)
            errors = {f"events[{i}]": e for i, e in indexed if e}
            raise serializers.ValidationError(errors)
        results = events_store(partner=partner, items=list(serializer.validated_data))
    except serializers.ValidationError as exc:
        return _validation_outcome(exc)
    except NoConsent as exc:
        return error(403, Code.NO_CONSENT, f"Member {exc.usernames[0]!r} has not connected {partner.name}.",
                     members=exc.usernames)
    except ConflictingDuplicate as exc:
        return error(409, Code.CONFLICTING_DUPLICATE, f"events[{exc.index}]: {exc.detail()}", index=exc.index,
                     event=None if exc.stored is None else event_representation(exc.stored, duplicate=True))
    accepted = sum(1 for _, dup in results if not dup)
    return Outcome(201, {
        "accepted": accepted,
        "duplicates": len(results) - accepted,
        "events": [event_representation(e, duplicate=dup) for e, dup in results],
    })


def request_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def idempotent(*, partner: Partner, key: str, body: bytes, handler: Callable[[], Outcome]) -> tuple[Outcome, bool]:
    """Run ``handler`` once per (partner, key); return (outcome, replayed).

    The key is claimed by one statement that commits on its own (in autocommit), so a
    concurrent request with the same key finds it ``in_flight`` (409) instead of waiting; the
    handler's writes and the recorded response then commit together, in a transaction retried
    on a transient database failure (a lock conflict that outlasts the retries is 409
    ``lock_conflict``, never a 5xx).
    """
    digest = request_hash(body)
    now = timezone.now()
    record = IdempotencyRecord(partner=partner, key=key, request_hash=digest, locked_until=now + IN_FLIGHT_LEASE)
    if not _insert_new([record], unique=("partner", "key"), key="key"):
        record = IdempotencyRecord.objects.get(partner=partner, key=key)
        if record.request_hash != digest:
            return error(422, Code.IDEMPOTENCY_KEY_REUSED,
                         "This Idempotency-Key was used with a different body."), False
        if record.state == IdempotencyRecord.State.DONE:
            assert record.response_status is not None and record.response_body is not None
            return Outcome(record.response_status, record.response_body), True
        if record.locked_until > now:
            return error(409, Code.REQUEST_IN_FLIGHT,
                         "A request with this Idempotency-Key is still being processed; retry shortly."), False
        # The first attempt died mid-way (its lease ran out): take it over, once.
        taken = IdempotencyRecord.objects.filter(
            pk=record.pk, state=IdempotencyRecord.State.IN_FLIGHT, locked_until=record.locked_until
        ).update(locked_until=now + IN_FLIGHT_LEASE)
        if not taken:
            return error(409, Code.REQUEST_IN_FLIGHT,
                         "A request with this Idempotency-Key is still being processed; retry shortly."), False
    tries = 0

    def attempt() -> tuple[Outcome, bool]:
        nonlocal tries
        tries += 1
        if tries > 1:  # a COMMIT whose answer the lost connection never brought back did happen
            done = IdempotencyRecord.objects.filter(pk=record.pk, state=IdempotencyRecord.State.DONE).first()
            if done is not None and done.response_status is not None and done.response_body is not None:
                return Outcome(done.response_status, done.response_body), False
        with transaction.atomic():
            outcome = handler()
            _record_done(record, outcome)
        return outcome, False

    try:
        return retrying(attempt, attempts=ATTEMPTS, what="partner ingestion")
    except BaseException as exc:
        # Free the key at once so the partner's retry is not told "in flight" for a minute.
        try:
            IdempotencyRecord.objects.filter(pk=record.pk, state=IdempotencyRecord.State.IN_FLIGHT).delete()
        except DatabaseError:
            connection.close_if_unusable_or_obsolete()  # the lease frees the key
        if isinstance(exc, Exception) and is_lock_conflict(exc):
            return error(409, Code.LOCK_CONFLICT, "The database kept refusing this write (a lock conflict); "
                         "nothing was stored. Send it again shortly."), False
        raise


def _record_done(record: IdempotencyRecord, outcome: Outcome) -> None:
    """``UPDATE … SET state = 'done', response_status, response_body`` as one plain statement."""
    fields, sql = _record_done_sql(connection.alias)
    values = (IdempotencyRecord.State.DONE, outcome.status, outcome.body)
    with connection.cursor() as cursor:
        cursor.execute(sql, [f.get_db_prep_save(v, connection) for f, v in zip(fields, values, strict=True)]
                       + [record.pk])


@functools.lru_cache(maxsize=4)
def _record_done_sql(alias: str) -> tuple[list[Any], str]:
    """``_record_done``'s fields (state, response status, response body) and statement."""
    meta: Any = IdempotencyRecord._meta
    qn = connections[alias].ops.quote_name
    fields = [meta.get_field(name) for name in ("state", "response_status", "response_body")]
    return fields, (f"UPDATE {qn(meta.db_table)} SET {', '.join(f'{qn(f.column)} = %s' for f in fields)}"  # noqa: S608
                    f" WHERE {qn(meta.pk.column)} = %s")  # ours
