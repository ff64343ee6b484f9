"""The export covers every model that holds a member's data: each one is in a registered section
(``accounts.privacy.registry``) or deliberately left out, with the reason; and each section shows
the member's rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from allauth.account.models import EmailAddress
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db.models import Model, Q
from knox.models import AuthToken

from accounts.members.models import User
from accounts.notifications.models import Notification, NotificationMute
from accounts.privacy import registry
from accounts.privacy import services as privacy
from leaderboards.boards.models import Season, SeasonEntry
from leaderboards.gamification.models import BadgeAward, Challenge, ChallengeParticipant, Perk, PerkGrant
from scoring.ingestion.consent import consent_grant
from scoring.moderation import services as moderation
from scoring.moderation.models import AuditEntry
from social.graph import services as social
from social.invitations import services as invitations
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

#: Models that hold member data and that no section exports, on purpose. Each app declares them
#: with ``registry.leave_out`` and the reason, next to its sections; in short:
LEFT_OUT = {
    "accounts.DataExport",  # the exports themselves, listed on the data page; deletion removes them
    "knox.AuthToken",  # login tokens: only digests, useless to anyone
    "mfa.Authenticator",  # second factors: credentials, never exported
    "axes.AccessAttempt",  # login attempts, kept by username for security (no member key)
    "axes.AccessLog",
    "axes.AccessFailureLog",
    "admin.LogEntry",  # staff's and moderators' own actions: moderators' identities stay out
    "scoring.ContagionNode",  # the contagion engine's derived state (scores and friendships are exported)
    "scoring.ContagionEdge",
    "scoring.IdempotencyRecord",  # a partner's request keys: no member column
    "scoring.FollowUp",  # the ledger's outbox of work owed after a score change (cleared in seconds)
}

#: The export's keys, in order: the envelope, then each app's sections in registration order.
EXPORT_KEYS = [
    "format", "generated_at",
    "profile", "privacy", "account", "notifications", "notification_mutes",  # accounts
    "friendships", "friend_requests", "blocks", "invitations",  # social
    "score", "events", "ledger", "partners", "disputes", "flags_made", "moderation",  # scoring
    "season_entries", "badges", "challenges", "perks",  # leaderboards
]


def _member_keys(model: type[Model]) -> list[str]:
    """The names of ``model``'s foreign keys and one-to-ones to the member model."""
    user = get_user_model()
    return [f.name for f in model._meta.get_fields()
            if getattr(f, "concrete", False) and (f.many_to_one or f.one_to_one) and f.related_model is user]


def models_holding_member_data() -> set[type[Model]]:
    """The member model and every installed model with a foreign key or one-to-one to it."""
    return {get_user_model()} | {model for model in apps.get_models() if _member_keys(model)}


def _label(model: type[Model]) -> str:
    return model._meta.label


def test_every_model_holding_member_data_is_in_a_section_or_left_out_with_a_reason():
    holding = models_holding_member_data()
    assert {EmailAddress, AuthToken, User, BadgeAward, SeasonEntry} <= holding  # the walk sees every app
    covered = {model for section in registry.sections() for model in section.models}
    left_out = registry.left_out()
    assert sorted(_label(m) for m in holding - covered - set(left_out)) == []
    assert sorted(_label(m) for m in covered & set(left_out)) == []
    assert sorted(_label(m) for m in left_out) == sorted(LEFT_OUT)
    assert all(why.strip() for why in left_out.values())


def test_the_export_has_one_key_per_section_in_registration_order(alice):
    assert [section.name for section in registry.sections()] == EXPORT_KEYS[2:]
    assert list(privacy.member_data(member=alice)) == EXPORT_KEYS


# --- a world with a row of every covered model ---------------------------------------------------

WEEK = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday


def leaderboards_rows(alice: User, bob: User) -> None:
    """A closed season alice ranked in, two badges, a perk she held then lost, and a challenge bob
    started that alice won."""
    season = Season.objects.create(starts_at=WEEK, ends_at=WEEK + timedelta(days=7), closed=True,
                                   closed_at=WEEK + timedelta(days=7))
    SeasonEntry.objects.create(season=season, member=alice, start_score=640, points=12,
                               reached_at=WEEK + timedelta(days=2), final_rank=3)
    SeasonEntry.objects.create(season=season, member=bob, start_score=700, points=4, reached_at=WEEK, final_rank=5)
    BadgeAward.objects.create(member=alice, badge="on_time_streak", tier="silver", awarded_at=WEEK,
                              explanation="Awarded for 6 months of on-time payments, last one on 1 Nov 2026")
    BadgeAward.objects.create(member=alice, badge="most_improved", key=f"season:{season.pk}",
                              awarded_at=WEEK + timedelta(days=7), explanation="3rd on the weekly board")
    BadgeAward.objects.create(member=bob, badge="one_year", awarded_at=WEEK, explanation="A year as a member.")
    perk = Perk.objects.create(name="Lounge access", slug="lounge-access", description="A lounge.", min_score=700)
    PerkGrant.objects.create(member=alice, perk=perk, granted_at=WEEK, revoked_at=WEEK + timedelta(days=3),
                             revoke_reason="Your score fell below 700.")
    PerkGrant.objects.create(member=bob, perk=perk, granted_at=WEEK)
    challenge = Challenge.objects.create(created_by=bob, created_at=WEEK, status=Challenge.Status.FINISHED,
                                         starts_at=WEEK, ends_at=WEEK + timedelta(days=7),
                                         finished_at=WEEK + timedelta(days=7))
    ChallengeParticipant.objects.create(challenge=challenge, member=bob, answer="accepted", answered_at=WEEK,
                                        start_score=700, points=4, final_rank=2)
    ChallengeParticipant.objects.create(challenge=challenge, member=alice, answer="accepted",
                                        answered_at=WEEK + timedelta(hours=1), start_score=640, points=12,
                                        final_rank=1, is_winner=True)


def test_the_leaderboards_sections_show_the_members_own_rows(alice, bob):
    leaderboards_rows(alice, bob)
    challenge = Challenge.objects.get()
    data = privacy.member_data(member=alice)
    assert data["season_entries"] == [
        {"season_starts_at": WEEK, "season_ends_at": WEEK + timedelta(days=7), "start_score": 640, "points": 12,
         "reached_at": WEEK + timedelta(days=2), "final_rank": 3},
    ]
    assert data["badges"] == [
        {"badge": "on_time_streak", "tier": "silver", "key": "", "awarded_at": WEEK,
         "explanation": "Awarded for 6 months of on-time payments, last one on 1 Nov 2026"},
        {"badge": "most_improved", "tier": "", "key": f"season:{Season.objects.get().pk}",
         "awarded_at": WEEK + timedelta(days=7), "explanation": "3rd on the weekly board"},
    ]
    assert data["challenges"] == [
        {"challenge": challenge.pk, "created_by_you": False, "status": "finished", "starts_at": WEEK,
         "ends_at": WEEK + timedelta(days=7), "finished_at": WEEK + timedelta(days=7), "answer": "accepted",
         "answered_at": WEEK + timedelta(hours=1), "start_score": 640, "points": 12, "final_rank": 1,
         "is_winner": True},
    ]
    assert data["perks"] == [
        {"perk": "lounge-access", "name": "Lounge access", "granted_at": WEEK,
         "revoked_at": WEEK + timedelta(days=3), "revoke_reason": "Your score fell below 700."},
    ]
    assert privacy.member_data(member=bob)["challenges"][0]["created_by_you"] is True


@pytest.fixture
def everything(world, run, acme, moderator):  # type: ignore[no-untyped-def]
    """The moderation cast, where alice also has a row of every model a section covers."""
    alice = world.alice
    eve = UserFactory(username="eve")
    Notification.objects.create(member=alice, kind="badge", text="You earned a badge.")
    NotificationMute.objects.create(member=alice, kind="challenge")
    NotificationMute.objects.create(member=alice, kind="badge")
    run(social.friend_request_send, from_user=alice, to_username="mallory")
    run(social.friend_request_send, from_user=world.carol, to_username="alice")
    run(social.block_create, blocker=alice, username="eve")
    run(invitations.invitation_create, inviter=alice, email="dan@example.com", url_for=lambda token: token)
    consent_grant(member=alice, partner=acme)
    run(moderation.dispute_open, member=alice, event_id=world.missed[0].pk, reason="paid")
    run(moderation.flag_create, reporter=alice, username="mallory", reason="spam")
    AuditEntry.objects.create(actor=moderator, actor_name="mod", action=AuditEntry.Action.MEMBER_EDIT,
                              member=alice, target_type="member", target_id=alice.pk, reason="Rude bio")
    leaderboards_rows(alice, world.bob)
    mine = Challenge.objects.create(created_by=alice, starts_at=WEEK, ends_at=WEEK + timedelta(days=7))
    ChallengeParticipant.objects.create(challenge=mine, member=alice, answer="accepted", answered_at=WEEK)
    ChallengeParticipant.objects.create(challenge=mine, member=world.bob)
    return world, eve


def test_each_section_shows_the_members_rows(everything):
    world, _eve = everything
    alice = world.alice
    for section in registry.sections():
        for model in section.models:
            mine = Q(pk=alice.pk) if model is get_user_model() else Q()
            for key in _member_keys(model):
                mine |= Q(**{key: alice})
            assert model._default_manager.filter(mine).exists(), f"no {_label(model)} row for alice"
    data = privacy.member_data(member=alice)
    assert [name for name in EXPORT_KEYS if not data[name]] == []
    assert data["profile"]["email_addresses"] == [{"email": "alice@example.com", "verified": True, "primary": True}]
    assert [r["to"] for r in data["friend_requests"]["sent"]] == ["mallory", "bob"]
    assert [r["from"] for r in data["friend_requests"]["received"]] == ["carol"]
    assert [b["username"] for b in data["blocks"]] == ["eve"]
    assert [i["email"] for i in data["invitations"]] == ["dan@example.com"]
    assert [p["partner"] for p in data["partners"]] == ["acme"]
    assert [(a["action"], a["reason"]) for a in data["moderation"]] == [("member_edit", "Rude bio")]
    assert "You earned a badge." in [n["text"] for n in data["notifications"]]
    assert data["notification_mutes"] == ["badge", "challenge"]


def test_sections_are_registered_once_under_their_name():
    profile = registry.sections()[0]
    registry.register(profile)  # an app's ready() run twice
    assert [section.name for section in registry.sections()] == EXPORT_KEYS[2:]
    with pytest.raises(ValueError, match="'profile'"):
        registry.register(registry.Section("profile", (User,), lambda member: None))


def test_deletion_answers_what_the_sections_steps_report(world, run):
    result = run(privacy.member_delete, member=world.alice, password=PASSWORD)
    assert result == {"deleted": True, "username": f"deleted-{world.alice.pk}", "friendships_ended": 1,
                      "removed": privacy.REMOVED, "kept": privacy.KEPT}
    assert list(result) == ["deleted", "username", "friendships_ended", "removed", "kept"]
