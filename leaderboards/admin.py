"""The leaderboards app's admin, one module per concern (Django's admin autodiscovery reads this one)."""

from leaderboards.boards import admin as boards_admin  # noqa: F401
from leaderboards.gamification import admin as gamification_admin  # noqa: F401
