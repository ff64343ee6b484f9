"""The friend graph's numbers, named once (STYLE.md §7). Vesting lives in settings.CONTAGION_VESTING."""

from __future__ import annotations

#: Friend suggestions shown at most.
SUGGESTIONS_LIMIT = 10
