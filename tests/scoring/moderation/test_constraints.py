"""The database backs the services' checks: they hold even when a check is raced past."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from scoring.moderation import services as moderation
from scoring.moderation.models import AuditEntry, Dispute, Flag

pytestmark = pytest.mark.django_db


def test_one_open_dispute_per_event_in_the_database(world):
    event = world.missed[0]
    Dispute.objects.create(member=world.alice, event=event, reason="a")
    with pytest.raises(IntegrityError), transaction.atomic():
        Dispute.objects.create(member=world.alice, event=event, reason="b")


def test_a_raced_duplicate_dispute_is_a_409(world, monkeypatch):
    event = world.missed[0]
    Dispute.objects.create(member=world.alice, event=event, reason="first")
    # The check before the insert saw nothing (a concurrent request inserted meanwhile).
    real_filter = Dispute.objects.filter
    monkeypatch.setattr(Dispute.objects, "filter", lambda *a, **k: real_filter(pk=-1))
    with pytest.raises(moderation.ModerationError) as exc:
        moderation.dispute_open(member=world.alice, event_id=event.pk, reason="second")
    assert exc.value.code == "dispute_already_open"


def test_one_open_flag_per_pair_and_an_action_is_undone_once(world, moderator, run):
    Flag.objects.create(reporter=world.alice, target=world.mallory, reason="a")
    with pytest.raises(IntegrityError), transaction.atomic():
        Flag.objects.create(reporter=world.alice, target=world.mallory, reason="b")
    entry = run(moderation.member_freeze, member_id=world.bob.pk, by=moderator, reason="x")
    run(moderation.action_undo, entry_id=entry.pk, by=moderator, reason="undo")
    with pytest.raises(moderation.ModerationError) as exc:  # the unique constraint, past the check
        moderation.audit_record(actor=moderator, action="member_unfreeze", target_type="member",
                                target_id=world.bob.pk, reason="again", undoes=entry)
    assert exc.value.code == "already_undone"
    assert AuditEntry.objects.filter(undoes=entry).count() == 1
