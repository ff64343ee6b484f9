"""Operators' view of the webhooks: endpoints (configure, enable, disable, rotate the secret),
messages with every delivery attempt, and "Send again" (replay).

Every change goes through ``scoring.webhooks.services`` under ``admin:<username>``: the URL is
checked by the guard, a new secret is shown once (in the page's message), a replay is logged
with who asked and recorded on the attempt it causes. An endpoint that delivery disabled shows
why in its list and page (the operators' notice; the mail to ADMINS and the ERROR log line say
the same).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from scoring.webhooks import services
from scoring.webhooks.guard import UnsafeUrl, destinations
from scoring.webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookMessage, WebhookType


def _actor(request: HttpRequest) -> str:
    return f"admin:{request.user.get_username()}"


class EndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https",
                         help_text="https, on a public address. Saving enables the endpoint if it was disabled.")
    types = forms.MultipleChoiceField(choices=WebhookType.choices, widget=forms.CheckboxSelectMultiple,
                                      help_text="The messages the partner receives.")

    class Meta:
        model = WebhookEndpoint
        fields = ["partner", "url", "types"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            destinations(url)
        except UnsafeUrl as exc:
            raise forms.ValidationError(exc.detail, code=exc.code) from exc
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ["partner", "url", "is_enabled", "disabled_at", "disabled_reason", "updated_at"]
    list_filter = ["is_enabled"]
    search_fields = ["partner__name", "partner__slug", "url"]
    readonly_fields = ["is_enabled", "disabled_at", "disabled_reason", "created_at", "updated_at"]
    actions = ["disable", "enable", "rotate_secret"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*self.readonly_fields, "partner"] if obj is not None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        configured = services.webhook_endpoint_set(partner=obj.partner, url=form.cleaned_data["url"],
                                                   types=form.cleaned_data["types"], actor_name=_actor(request))
        saved = WebhookEndpoint.objects.get(partner=obj.partner)
        obj.pk, obj.is_enabled, obj.disabled_reason = saved.pk, saved.is_enabled, saved.disabled_reason
        if configured.secret:
            self.message_user(request, f"{obj.partner}: webhook secret {configured.secret} (shown once: hand it to "
                                       "the partner now).", messages.WARNING)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # its messages and attempts are the record: disable it instead

    @admin.action(description="Disable the selected endpoints (their messages wait)", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        done = [e for e in queryset if services.webhook_endpoint_disable(
            endpoint_id=e.pk, reason="Disabled in the admin", actor_name=_actor(request))]
        self.message_user(request, f"Disabled {len(done)} endpoint(s).")

    @admin.action(description="Enable the selected endpoints (what waited is sent, in order)",
                  permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        done = [e for e in queryset if services.webhook_endpoint_enable(endpoint_id=e.pk, actor_name=_actor(request))]
        self.message_user(request, f"Enabled {len(done)} endpoint(s).")

    @admin.action(description="Rotate the secret (the old one signs beside the new one for a while)",
                  permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset.select_related("partner"):
            rotated = services.webhook_secret_rotate(partner=endpoint.partner, actor_name=_actor(request))
            self.message_user(request, f"{endpoint.partner}: new webhook secret {rotated.secret} (shown once: hand "
                                       "it to the partner now).", messages.WARNING)


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ("attempted_at", "status_code", "ok", "latency_ms", "error", "response_excerpt", "url", "triggered_by")
    readonly_fields = fields
    ordering = ["id"]
    extra = 0
    can_delete = False
    verbose_name_plural = "delivery attempts"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookMessage)
class WebhookMessageAdmin(admin.ModelAdmin):
    list_display = ["msg_id", "partner", "type", "status", "failures", "created_at", "next_attempt_at",
                    "delivered_at"]
    list_filter = ["status", "type", "partner"]
    search_fields = ["msg_id", "partner__slug"]
    list_select_related = ["partner"]
    fields = ("msg_id", "partner", "type", "status", "failures", "created_at", "next_attempt_at", "delivered_at",
              "replayed_by", "data")
    readonly_fields = fields
    inlines = [AttemptInline]
    actions = ["replay"]

    @admin.display(description="failed attempts", ordering="attempts")
    def failures(self, message: WebhookMessage) -> int:
        """``attempts`` counts the failures so far (the position in the retry schedule); every
        attempt, the successful one too, is listed below."""
        return message.attempts

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Send again (same webhook-id; a new round of retries)", permissions=["change"])
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookMessage]) -> None:
        for message in queryset:
            services.webhook_message_replay(message_id=message.pk, actor_name=_actor(request))
        self.message_user(request, f"{queryset.count()} message(s) will be sent again, in order.")


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(admin.ModelAdmin):
    list_display = ["attempted_at", "partner", "message", "status_code", "ok", "latency_ms", "error", "triggered_by"]
    list_filter = ["ok", "partner"]
    search_fields = ["message__msg_id"]
    list_select_related = ["partner", "message"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
