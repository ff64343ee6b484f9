"""The member's data, section by section: what the export shows and what deletion does.

A member's data lives in every app, and accounts imports none above it. So each app registers
its own sections from its ``AppConfig.ready`` (accounts, then social, scoring, leaderboards: the
order of INSTALLED_APPS, which is the order of the export's keys and of the deletion's steps):

* ``name``: the section's key in the export's JSON;
* ``models``: every model whose rows about the member the section covers;
* ``export(member)``: a JSON-ready value (``DjangoJSONEncoder``: datetimes and decimals allowed);
* ``delete(member, deletion)``, optional: the section's part of the account's deletion, run inside
  the deletion's transaction with the member's row locked. What it returns (a dict, or None) is
  added to the deletion's answer.

A model that holds member data but is deliberately in no section is declared with ``leave_out``
and the reason; a test checks that every installed model holding member data is one or the other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Model

from accounts.members.models import User


@dataclass(frozen=True)
class Deletion:
    """What a deletion step may need besides the member's row."""

    #: The member's username before the deletion replaced it (other members' rows may name it).
    former_username: str
    #: The one instant the deletion happens at.
    at: datetime


@dataclass(frozen=True)
class Section:
    name: str
    models: tuple[type[Model], ...]
    export: Callable[[User], Any]
    delete: Callable[[User, Deletion], Mapping[str, Any] | None] | None = None


_sections: dict[str, Section] = {}
_left_out: dict[type[Model], str] = {}


def register(*sections: Section) -> None:
    """Add sections, after those already registered. Registering the same section again (an
    app's ``ready`` run twice) changes nothing; another section under a taken name is a bug."""
    for section in sections:
        existing = _sections.get(section.name)
        if existing is not None and existing != section:
            raise ValueError(f"the export already has a section {section.name!r}")
        _sections[section.name] = section


def leave_out(model: type[Model], *, why: str) -> None:
    """Declare that ``model`` holds member data that no section exports, and why."""
    _left_out[model] = why


def sections() -> list[Section]:
    """Every registered section, in registration order."""
    return list(_sections.values())


def left_out() -> dict[type[Model], str]:
    """The models deliberately in no section, with the reason for each."""
    return dict(_left_out)
