"""Members' web pages of moderation: their events with each one's dispute (and the form to open
one), flags on profiles, and the dashboard's notices and open disputes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.members.access import member_of
from accounts.notifications import feed
from accounts.notifications.models import Notification
from config.kernel.errors import DomainError, NotFound
from scoring.ledger import selectors
from scoring.moderation import disputes, furnisher
from scoring.moderation import services as moderation
from scoring.moderation.models import REASON_MAX_LENGTH, Dispute

#: Events per page of the events page.
EVENTS_PER_PAGE = 30


class DisputeForm(forms.Form):
    reason = forms.CharField(max_length=REASON_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="What is wrong with this event? The partner that sent it checks it first.")


class FlagForm(forms.Form):
    username = forms.CharField(max_length=150)
    reason = forms.CharField(max_length=REASON_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 3}))


def moderation_context(request: HttpRequest) -> dict[str, Any]:
    """What the dashboard shows: the latest notifications (the bell's count is the unread one,
    ``config.context_processors.notifications``) and open disputes."""
    me = member_of(request)
    return {
        "notices": feed.feed_page(member_id=me.pk, limit=5).items,
        "open_disputes": Dispute.objects.filter(member=me, status=Dispute.Status.OPEN).count(),
    }


@login_required
def events_page(request: HttpRequest) -> HttpResponse:
    """The member's events, newest first, each with its dispute shown and its timeline; their
    disputes and the notices about them. Disputes whose partner left them unanswered past their
    deadline are resolved first (the embedded mode has no beat to do it)."""
    disputes.disputes_resolve_unanswered(member_id=member_of(request).pk)
    page = Paginator(selectors.member_events(member=member_of(request)), EVENTS_PER_PAGE).get_page(
        request.GET.get("page"))
    page.object_list = list(page.object_list)  # annotated with their disputes below
    return render(request, "scoring/events.html", {"page": page, **_events_context(request, page.object_list)})


def _events_context(request: HttpRequest, events: Any) -> dict[str, Any]:
    """The events page's disputes: each event's dispute shown (``furnisher.disputes_shown``), and
    the member's list."""
    me = member_of(request)
    shown = furnisher.disputes_shown([e.pk for e in events], steps=True)
    for e in events:
        e.dispute = shown.get(e.pk)
    return {
        "disputes": list(Dispute.objects.filter(member=me).select_related("event", "event__partner")
                         .order_by("-created_at", "-id")[:20]),
        "event_notices": list(Notification.objects.filter(
            member=me, kind__in=[Notification.Kind.DISPUTE, Notification.Kind.EVENT])[:10]),
        "dispute_form": DisputeForm(),
    }


@login_required
@require_POST
def event_dispute(request: HttpRequest, event_id: int) -> HttpResponse:
    form = DisputeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say what is wrong with the event.")
        return redirect("score-events")
    try:
        moderation.dispute_open(member=member_of(request), event_id=event_id, reason=form.cleaned_data["reason"])
    except NotFound:
        return render(request, "404.html", status=404)
    except DomainError as exc:
        messages.error(request, exc.detail)
        return redirect("score-events")
    messages.success(request, "Dispute sent. The partner that sent the event checks it first; you will see "
                              "every step here.")
    return redirect("score-events")


@login_required
def flag_member(request: HttpRequest) -> HttpResponse:
    form = FlagForm(request.POST or None, initial={"username": request.GET.get("username", "")})
    if request.method == "POST" and form.is_valid():
        try:
            moderation.flag_create(reporter=member_of(request), **form.cleaned_data)
        except DomainError as exc:
            form.add_error(None, exc.detail)
        else:
            messages.success(request, "Thank you: a moderator will look at this profile. They never tell "
                                      "the member who flagged them.")
            return redirect("dashboard")
    return render(request, "moderation/flag.html", {"form": form})

