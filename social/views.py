"""The friends pages: one dashboard page, and POST-redirect-GET actions that call one service
each and report through messages. The invitation link's page is here too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.members.access import member_of
from accounts.members.models import User
from config.kernel.errors import DomainError, NotFound
from social.forms import InvitationForm, UsernameForm
from social.graph import selectors, services
from social.invitations import selectors as invitations_selectors
from social.invitations import services as invitations_services
from social.invitations.errors import InvitationGone
from social.invitations.limits import INVITATION_TTL, MAX_OPEN_INVITATIONS
from social.invitations.receivers import INVITATION_SESSION_KEY

#: The link of an invitation just created, shown once on the next page view.
NEW_INVITATION_SESSION_KEY = "social:new_invitation"
#: The member's invitations the friends page lists at most (the newest, whatever their state).
INVITATIONS_SHOWN = 20
#: Friends listed per page of the friends page (searchable by username).
FRIENDS_PER_PAGE = 20
#: Requests (each way) and blocks listed per page of the friends page.
REQUESTS_PER_PAGE = 10
#: What each confirmation asks, the endpoint it posts to, and how its button reads.
CONFIRMATIONS = {
    "unfriend": ("Unfriend {username}?", "friend-unfriend", "Unfriend",
                 "You stop moving each other's scores. You can send a new request later."),
    "block": ("Block {username}?", "friend-block", "Block",
              "Blocking ends your friendship, hides you from each other and stops their requests. "
              "They are not told. You can unblock them later from this page."),
    "cancel": ("Cancel your request to {username}?", "", "Cancel the request",
               "They will no longer see it. You can send a new one later."),
}


def _done(request: HttpRequest) -> HttpResponse:
    return redirect("friends")


def _attempt(request: HttpRequest, action: Callable[[], object], success: str) -> HttpResponse:
    try:
        action()
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, success)
    return _done(request)


def _username(request: HttpRequest) -> str | None:
    form = UsernameForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a username.")
        return None
    return form.cleaned_data["username"]


def _new_invitation(request: HttpRequest) -> dict | None:
    shown = request.session.pop(NEW_INVITATION_SESSION_KEY, None)
    if shown:
        shown["expires_at"] = datetime.fromisoformat(shown["expires_at"])
    return shown


def _page(request: HttpRequest, items: Any, param: str, per_page: int = REQUESTS_PER_PAGE) -> Page:
    """One page of ``items``, ``per_page`` long, chosen by the query parameter ``param`` (each
    list of the page keeps its own); ``page.param`` names it for the pager's links
    (``social/_pager.html``)."""
    page = Paginator(items, per_page).get_page(request.GET.get(param))
    page.param = param  # type: ignore[attr-defined]
    return page


@login_required
def friends_page(request: HttpRequest) -> HttpResponse:
    """Requests and invitations first (what waits for the member), then the friend list, searched
    by username and paged, then suggestions and blocks."""
    me = member_of(request)
    now = timezone.now()
    invitations = list(invitations_selectors.invitations_of(member=me)[:INVITATIONS_SHOWN])
    friends = selectors.friends_of(member=me)
    query = request.GET.get("q", "").strip()[:150]
    shown = [f for f in friends if query.lower() in f.username.lower()] if query else friends
    context = {
        "friend_count": len(friends),
        "query": query,
        "friends_page": _page(request, shown, "page", FRIENDS_PER_PAGE),
        "incoming": _page(request, selectors.incoming_requests(member=me).order_by("-created_at", "-pk"),
                          "incoming_page"),
        "outgoing": _page(request, selectors.outgoing_requests(member=me).order_by("-created_at", "-pk"),
                          "outgoing_page"),
        "suggestions": selectors.suggestions_for(member=me),
        "blocks": _page(request, selectors.blocks_of(member=me), "blocks_page"),
        "invitations": [(inv, inv.status_at(now)) for inv in invitations],
        "open_invitations": invitations_selectors.open_invitation_count(member_id=me.pk, now=now),
        "max_open_invitations": MAX_OPEN_INVITATIONS,
        "new_invitation": _new_invitation(request),
        "invitation_days": INVITATION_TTL.days,
        "add_form": UsernameForm(),
        "invite_form": InvitationForm(),
        "vesting_days": settings.CONTAGION_VESTING.days,
        "now": now,
    }
    return render(request, "social/friends.html", context)


@login_required
def friend_confirm(request: HttpRequest) -> HttpResponse:
    """The question before a destructive friends action (unfriend, block, cancel a request):
    a page with one POST form to the action's endpoint, and a way back."""
    action = request.GET.get("action", "")
    if action not in CONFIRMATIONS:
        return _done(request)
    question, url_name, button, hint = CONFIRMATIONS[action]
    fields: dict[str, str] = {}
    if action == "cancel":
        try:
            friend_request = selectors.request_for_sender(member=member_of(request), request_id=int(
                request.GET.get("request", "0") or 0))
        except (NotFound, ValueError):
            messages.error(request, NotFound.detail)
            return _done(request)
        username = friend_request.to_user.username
        url = reverse("friend-request-cancel", args=[friend_request.pk])
    else:
        form = UsernameForm(request.GET)
        if not form.is_valid():
            messages.error(request, "Enter a username.")
            return _done(request)
        username = form.cleaned_data["username"]
        url = reverse(url_name)
        fields["username"] = username
    return render(request, "social/confirm.html", {
        "question": question.format(username=username), "action_url": url, "fields": fields,
        "button": button, "hint": hint, "danger": action == "block",
    })


@login_required
@require_POST
def request_send(request: HttpRequest) -> HttpResponse:
    username = _username(request)
    if username is None:
        return _done(request)
    try:
        sent = services.friend_request_send(from_user=member_of(request), to_username=username)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        if sent.friendship is not None:
            messages.success(request, f"{username} had asked you too: you are now friends.")
        else:
            messages.success(request, f"Friend request sent to {username}.")
    return _done(request)


def _incoming_action(request: HttpRequest, pk: int, action: Callable, success: str) -> HttpResponse:
    me = member_of(request)
    try:
        friend_request = selectors.request_for_recipient(member=me, request_id=pk)
    except NotFound as exc:
        messages.error(request, exc.detail)
        return _done(request)
    return _attempt(request, lambda: action(request=friend_request, by=me),
                    success.format(username=friend_request.from_user.username))


@login_required
@require_POST
def request_accept(request: HttpRequest, pk: int) -> HttpResponse:
    return _incoming_action(
        request, pk, services.friend_request_accept, "You and {username} are now friends."
    )


@login_required
@require_POST
def request_decline(request: HttpRequest, pk: int) -> HttpResponse:
    return _incoming_action(request, pk, services.friend_request_decline, "Request from {username} declined.")


@login_required
@require_POST
def request_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    me = member_of(request)
    try:
        friend_request = selectors.request_for_sender(member=me, request_id=pk)
    except NotFound as exc:
        messages.error(request, exc.detail)
        return _done(request)
    return _attempt(request, lambda: services.friend_request_cancel(request=friend_request, by=me),
                    f"Request to {friend_request.to_user.username} cancelled.")


def _on_username(request: HttpRequest, action: Callable[[User, str], object], message: str) -> HttpResponse:
    """POST forms that name a member (``username``): run ``action(me, username)``, then say
    ``message`` (with ``{username}``) or the error, and go back."""
    username = _username(request)
    if username is None:
        return _done(request)
    me = member_of(request)
    return _attempt(request, lambda: action(me, username), message.format(username=username))


@login_required
@require_POST
def unfriend(request: HttpRequest) -> HttpResponse:
    return _on_username(request, lambda me, name: services.friendship_unfriend(member=me, username=name),
                        "You and {username} are no longer friends.")


@login_required
@require_POST
def block(request: HttpRequest) -> HttpResponse:
    return _on_username(request, lambda me, name: services.block_create(blocker=me, username=name),
                        "You blocked {username}. They are not told.")


@login_required
@require_POST
def unblock(request: HttpRequest) -> HttpResponse:
    return _on_username(request, lambda me, name: services.block_remove(blocker=me, username=name),
                        "You unblocked {username}.")


@login_required
@require_POST
def invitation_create(request: HttpRequest) -> HttpResponse:
    form = InvitationForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a valid email address, or none.")
        return _done(request)
    email = form.cleaned_data["email"]
    try:
        created = invitations_services.invitation_create(
            inviter=member_of(request),
            email=email,
            url_for=lambda token: request.build_absolute_uri(reverse("invitation", args=[token])),
        )
    except DomainError as exc:
        messages.error(request, exc.detail)
        return _done(request)
    # Shown once, on the next page: only the token's hash is kept.
    request.session[NEW_INVITATION_SESSION_KEY] = {
        "url": created.url, "expires_at": created.invitation.expires_at.isoformat(), "email": email,
    }
    messages.success(request, f"Invitation emailed to {email}." if email else "Invitation link created.")
    return _done(request)


def _gone(request: HttpRequest) -> HttpResponse:
    return render(request, "social/invitation_gone.html", status=410)


def _unknown(request: HttpRequest) -> HttpResponse:
    return render(request, "social/invitation_gone.html", {"unknown": True}, status=404)


def invitation_page(request: HttpRequest, token: str) -> HttpResponse:
    """The link in an invitation. GET shows it (and, signed out, keeps the token in the
    session so it completes right after sign-up or log-in); POST accepts it."""
    try:
        invitation = invitations_selectors.invitation_by_token(token=token)
    except NotFound:
        return _unknown(request)
    user = request.user
    if request.method == "POST":
        if not user.is_authenticated:
            return redirect(f"{reverse('account_login')}?next={request.path}")
        me = member_of(request)
        try:
            invitations_services.invitation_accept(token=token, user=me)
        except InvitationGone:
            return _gone(request)
        except DomainError as exc:
            messages.error(request, exc.detail)
            return _done(request)
        messages.success(request, f"You and {invitation.inviter.username} are now friends.")
        return _done(request)

    now = timezone.now()
    if user.is_authenticated and invitation.used_by_id == user.pk:
        messages.info(request, "You already used this invitation.")
        return _done(request)
    if invitation.status_at(now) != "open" or not invitation.inviter.is_active:
        return _gone(request)
    if user.is_authenticated and selectors.has_blocked(blocker_id=invitation.inviter_id, blocked_id=user.pk):
        return _gone(request)  # the same page as an expired link: a block is never revealed
    if not user.is_authenticated:
        request.session[INVITATION_SESSION_KEY] = token
    return render(
        request,
        "social/invitation.html",
        {
            "invitation": invitation,
            "inviter": invitation.inviter.username,
            "own": user.is_authenticated and invitation.inviter_id == user.pk,
            "next": reverse("friends"),
        },
    )


