"""The friend graph's error codes and the exceptions its services raise.

One place for the codes: the API answers ``{"code", "detail"}`` with them (every one is a
``DomainError``), the web pages turn them into messages, and the tests import them. A stranger,
a member who blocked you and a username that does not exist all raise the kernel's ``NotFound``
with the very same detail, so no response can tell them apart.
"""

from __future__ import annotations

from config.kernel.errors import DomainError, ErrorCode

__all__ = [
    "AlreadyFriends",
    "CannotBlockSelf",
    "CannotFriendSelf",
    "RequestClosed",
    "SocialCode",
    "YouBlocked",
]


class SocialCode:
    NOT_FOUND = ErrorCode.NOT_FOUND  # "not_found": the same code as any unknown URL
    CANNOT_FRIEND_SELF = "cannot_friend_self"
    CANNOT_BLOCK_SELF = "cannot_block_self"
    ALREADY_FRIENDS = "already_friends"
    YOU_BLOCKED = "you_blocked"  # only ever about a block the caller made themselves
    REQUEST_CLOSED = "request_closed"


class CannotFriendSelf(DomainError):
    code = SocialCode.CANNOT_FRIEND_SELF
    detail = "You cannot be your own friend."


class CannotBlockSelf(DomainError):
    code = SocialCode.CANNOT_BLOCK_SELF
    detail = "You cannot block yourself."


class AlreadyFriends(DomainError):
    status = 409
    code = SocialCode.ALREADY_FRIENDS
    detail = "You are already friends."


class YouBlocked(DomainError):
    status = 409
    code = SocialCode.YOU_BLOCKED
    detail = "You blocked this member: unblock them first."


class RequestClosed(DomainError):
    status = 409
    code = SocialCode.REQUEST_CLOSED
    detail = "This friend request was already answered or cancelled."

