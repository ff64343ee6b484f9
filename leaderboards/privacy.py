"""Leaderboards' sections of a member's data (``accounts.privacy.registry``): season entries,
badges, challenges and perks. Account deletion removes nothing here: the deleted member leaves
every board (``profile_changed``), and their past standings stay, under the anonymous account,
in the results other members saw."""

from __future__ import annotations

from typing import Any

from accounts.members.models import User
from accounts.privacy import registry
from accounts.privacy.registry import Section
from leaderboards.boards.models import SeasonEntry
from leaderboards.gamification.models import BadgeAward, Challenge, ChallengeParticipant, PerkGrant


def season_entries_export(member: User) -> list[dict[str, Any]]:
    """One entry per weekly season the member's score moved in, oldest first."""
    entries = SeasonEntry.objects.filter(member=member).select_related("season").order_by("season__starts_at")
    return [{"season_starts_at": e.season.starts_at, "season_ends_at": e.season.ends_at,
             "start_score": e.start_score, "points": e.points, "reached_at": e.reached_at,
             "final_rank": e.final_rank}
            for e in entries]


def badges_export(member: User) -> list[dict[str, Any]]:
    """Every badge earned, oldest first, with its tier, its key (which season or challenge a
    repeatable badge was for) and why it was awarded."""
    return [{"badge": b.badge, "tier": b.tier, "key": b.key, "awarded_at": b.awarded_at,
             "explanation": b.explanation}
            for b in BadgeAward.objects.filter(member=member).order_by("awarded_at", "id")]


def challenges_export(member: User) -> list[dict[str, Any]]:
    """Every challenge the member was in (the ones they created included), oldest first: the
    challenge, their answer, and their standing in it."""
    entries = ChallengeParticipant.objects.filter(member=member).select_related("challenge").order_by(
        "challenge__created_at", "challenge_id"
    )
    return [{"challenge": p.challenge_id, "created_by_you": p.challenge.created_by_id == member.pk,
             "status": p.challenge.status, "starts_at": p.challenge.starts_at, "ends_at": p.challenge.ends_at,
             "finished_at": p.challenge.finished_at, "answer": p.answer, "answered_at": p.answered_at,
             "start_score": p.start_score, "points": p.points, "final_rank": p.final_rank,
             "is_winner": p.is_winner}
            for p in entries]


def perks_export(member: User) -> list[dict[str, Any]]:
    """Every perk granted, oldest first, and when and why it was revoked."""
    grants = PerkGrant.objects.filter(member=member).select_related("perk").order_by("granted_at", "id")
    return [{"perk": g.perk.slug, "name": g.perk.name, "granted_at": g.granted_at, "revoked_at": g.revoked_at,
             "revoke_reason": g.revoke_reason}
            for g in grants]


def register_sections() -> None:
    registry.register(
        Section("season_entries", (SeasonEntry,), season_entries_export),
        Section("badges", (BadgeAward,), badges_export),
        # A challenge's creator is always one of its participants.
        Section("challenges", (Challenge, ChallengeParticipant), challenges_export),
        Section("perks", (PerkGrant,), perks_export),
    )
