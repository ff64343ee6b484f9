"""``manage.py partner_create NAME``: a partner and its first signing key (the secret shown once)."""

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from scoring.ingestion.partners import partner_create


class Command(BaseCommand):
    help = "Create a partner and print its key id and secret (shown once; stored encrypted)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("name")
        parser.add_argument("--slug", default=None)
        parser.add_argument("--json", action="store_true", help='print {"slug", "key_id", "secret"}')

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        try:
            issued = partner_create(name=options["name"], slug=options["slug"], actor_name="manage.py")
        except IntegrityError as exc:
            raise CommandError(f"A partner with that slug already exists: {exc}") from exc
        if options["json"]:
            self.stdout.write(json.dumps({"slug": issued.slug, "key_id": issued.key_id, "secret": issued.secret}))
            return
        self.stdout.write(f"Partner {issued.slug} created.")
        self.stdout.write(f"  key id: {issued.key_id}")
        self.stdout.write(f"  secret: {issued.secret}   (shown once: store it now)")
