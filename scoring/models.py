"""The scoring app's models, one module per concern; Django registers them from here."""

from scoring.contagion.models import ContagionEdge, ContagionGraph, ContagionNode
from scoring.ingestion.models import Event, IdempotencyRecord, Partner, PartnerConsent, PartnerKey, PartnerKeyAudit
from scoring.ledger.models import FollowUp, ScoreChange, ScoreState
from scoring.moderation.models import AuditEntry, Dispute, DisputeStep, Flag
from scoring.webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookMessage, WebhookSecret

__all__ = ["AuditEntry", "ContagionEdge", "ContagionGraph", "ContagionNode", "Dispute", "DisputeStep", "Event",
           "Flag", "FollowUp", "IdempotencyRecord", "Partner", "PartnerConsent", "PartnerKey", "PartnerKeyAudit",
           "ScoreChange", "ScoreState", "WebhookAttempt", "WebhookEndpoint", "WebhookMessage", "WebhookSecret"]
