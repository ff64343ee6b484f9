"""The partner's webhook configuration and deliveries (signed), included under /api/v1/."""

from django.urls import path

from scoring.partners import webhook_api

urlpatterns = [
    path("partner/webhook/", webhook_api.PartnerWebhookView.as_view(), name="api-partner-webhook"),
    path("partner/webhook/rotate/", webhook_api.PartnerWebhookRotateView.as_view(), name="api-partner-webhook-rotate"),
    path("partner/webhooks/deliveries/", webhook_api.PartnerWebhookDeliveriesView.as_view(),
         name="api-partner-webhook-deliveries"),
]
