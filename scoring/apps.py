from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "scoring"
    verbose_name = "Scores"

    def ready(self) -> None:
        # Apps are loaded here, so the modules that touch models can be imported: each
        # ``receivers`` module connects its receivers, each ``tasks`` module registers its tasks.
        from accounts.members.moderators import register_moderator_permissions
        from scoring import privacy  # scoring's part of a member's data (accounts.privacy.registry)
        from scoring.contagion import tasks as contagion_tasks  # noqa: F401
        from scoring.ledger import tasks as ledger_tasks  # noqa: F401
        from scoring.moderation import tasks as moderation_tasks  # noqa: F401
        from scoring.webhooks import tasks as webhooks_tasks  # noqa: F401

        # Receivers run in the order they were connected: on one profile change the ledger
        # rescores before contagion re-checks private mode, as they always did.
        # isort: off
        from scoring.ledger import receivers as ledger_receivers  # noqa: F401
        from scoring.contagion import receivers as contagion_receivers  # noqa: F401
        from scoring.webhooks import receivers as webhooks_receivers  # noqa: F401
        # isort: on

        register_moderator_permissions(
            "scoring.view_event", "scoring.change_event", "scoring.view_scorechange",
            "scoring.view_scorestate", "scoring.view_partner", "scoring.view_partnerconsent",
        )
        # Moderation (DESIGN.md §10): queues, the audit log (view only: nobody changes or deletes
        # it), and the actions; see scoring.moderation.admin.
        register_moderator_permissions(
            "scoring.view_dispute", "scoring.change_dispute", "scoring.view_disputestep", "scoring.view_flag",
            "scoring.change_flag",
            "scoring.view_auditentry", "scoring.moderate_events", "scoring.freeze_member",
            "scoring.undo_action", "scoring.view_suspicious_patterns", "scoring.export_csv",
        )
        privacy.register_sections()
