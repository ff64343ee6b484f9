"""The leaderboards app's models, one module per concern; Django registers them from here."""

from leaderboards.boards.models import Season, SeasonEntry
from leaderboards.gamification.models import BadgeAward, Challenge, ChallengeParticipant, Perk, PerkGrant

__all__ = ["BadgeAward", "Challenge", "ChallengeParticipant", "Perk", "PerkGrant", "Season", "SeasonEntry"]
