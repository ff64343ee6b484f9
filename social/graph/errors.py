"""The social app's error codes and the exceptions its services raise.

One place for the codes: the API answers ``{"code", "detail"}`` with them, the web pages turn
them into messages, and the tests import them. A stranger, a member who blocked you and a
username that does not exist all raise ``NotFound`` with the very same detail, so no response
can tell them apart.
"""

from __future__ import annotations

from config.kernel.errors import ErrorCode


class SocialCode:
    NOT_FOUND = ErrorCode.NOT_FOUND  # "not_found": the same code as any unknown URL
    CANNOT_FRIEND_SELF = "cannot_friend_self"
    CANNOT_BLOCK_SELF = "cannot_block_self"
    ALREADY_FRIENDS = "already_friends"
    YOU_BLOCKED = "you_blocked"  # only ever about a block the caller made themselves
    REQUEST_CLOSED = "request_closed"
    INVITATION_GONE = "invitation_gone"
    RATE_LIMITED = "rate_limited"


NOT_FOUND_DETAIL = "Not found."  # the same words as config.api_errors.api_not_found


class SocialError(Exception):
    status: int = 400
    code: str = ErrorCode.INVALID
    detail: str = "Invalid request."

    def __init__(self, detail: str | None = None) -> None:
        if detail is not None:
            self.detail = detail
        super().__init__(self.detail)


class NotFound(SocialError):
    status = 404
    code = SocialCode.NOT_FOUND
    detail = NOT_FOUND_DETAIL

    def __init__(self) -> None:  # never a custom detail: it could tell cases apart
        super().__init__()


class CannotFriendSelf(SocialError):
    code = SocialCode.CANNOT_FRIEND_SELF
    detail = "You cannot be your own friend."


class CannotBlockSelf(SocialError):
    code = SocialCode.CANNOT_BLOCK_SELF
    detail = "You cannot block yourself."


class AlreadyFriends(SocialError):
    status = 409
    code = SocialCode.ALREADY_FRIENDS
    detail = "You are already friends."


class YouBlocked(SocialError):
    status = 409
    code = SocialCode.YOU_BLOCKED
    detail = "You blocked this member: unblock them first."


class RequestClosed(SocialError):
    status = 409
    code = SocialCode.REQUEST_CLOSED
    detail = "This friend request was already answered or cancelled."


class InvitationGone(SocialError):
    status = 410
    code = SocialCode.INVITATION_GONE
    detail = "This invitation has expired or was already used."


class RateLimited(SocialError):
    status = 429
    code = SocialCode.RATE_LIMITED
