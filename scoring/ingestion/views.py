"""The member's partners page: connect and disconnect the partners that may send their events."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.members.access import member_of
from scoring.ingestion import consent
from scoring.ingestion.models import Partner


@login_required
def partners_page(request: HttpRequest) -> HttpResponse:
    me = member_of(request)
    return render(request, "scoring/partners.html", {
        "connected": consent.consents_live(member=me),
        "available": consent.partners_available(member=me),
    })


@login_required
@require_POST
def partner_connect(request: HttpRequest, slug: str) -> HttpResponse:
    partner = get_object_or_404(Partner, slug=slug, is_active=True)
    try:
        consent.consent_grant(member=member_of(request), partner=partner)
        messages.success(request, f"{partner.name} can now send your payment events.")
    except consent.AlreadyConnected:
        messages.info(request, f"{partner.name} was already connected.")
    return redirect("partners")


@login_required
@require_POST
def partner_disconnect(request: HttpRequest, slug: str) -> HttpResponse:
    partner = get_object_or_404(Partner, slug=slug)
    if consent.consent_revoke(member=member_of(request), partner=partner):
        messages.success(request, f"{partner.name} is disconnected; it can no longer send events for you.")
    return redirect("partners")

