"""Reads about members."""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.models import EmailAddress

from accounts.members.models import User

COMPLETENESS_FIELDS: tuple[str, ...] = ("email_verified", "phone", "city", "avatar", "bio")


@dataclass(frozen=True)
class ProfileCompleteness:
    """Which profile fields are filled or verified. Content is never looked at beyond that."""

    email_verified: bool
    phone: bool
    city: bool
    avatar: bool
    bio: bool

    @property
    def filled(self) -> int:
        return sum(getattr(self, name) for name in COMPLETENESS_FIELDS)

    @property
    def fraction(self) -> float:
        return self.filled / len(COMPLETENESS_FIELDS)

    @property
    def missing(self) -> list[str]:
        return [name for name in COMPLETENESS_FIELDS if not getattr(self, name)]


def email_verified(*, user: User) -> bool:
    return EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()


def profile_completeness(*, user: User) -> ProfileCompleteness:
    return ProfileCompleteness(
        email_verified=bool(user.email) and email_verified(user=user),
        phone=bool(user.phone.strip()),
        city=bool(user.city.strip()),
        avatar=bool(user.avatar),
        bio=bool(user.bio.strip()),
    )
