"""``manage.py partner_key``: operators' management of partners' signing keys, every change audited.

    partner_key list [SLUG] [--json]                     keys, live or revoked, and when each was last used
    partner_key create SLUG [--json]                     one more live key (refused at two live: rotate)
    partner_key rotate SLUG [--revoke-others] [--json]   a new key; the oldest of two live ones is revoked,
                                                         or with --revoke-others every other one (a leak)
    partner_key revoke KEY_ID --reason "…"               the key is refused at once (401 key_revoked)

A new secret is printed once and stored encrypted. Each change is written to the partner's key
audit (``PartnerKeyAudit``, shown in the admin) as ``manage.py:<operating-system user>``.
"""

from __future__ import annotations

import getpass
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.kernel.errors import DomainError
from scoring.ingestion.models import Partner, PartnerKey
from scoring.ingestion.partners import IssuedKey, partner_key_issue, partner_key_revoke


def _operator() -> str:
    try:
        return f"manage.py:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a bare container
        return "manage.py"


class Command(BaseCommand):
    help = "List, create, rotate or revoke partners' signing keys (audited)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="list keys")
        listing.add_argument("slug", nargs="?")
        listing.add_argument("--json", action="store_true")
        for name, text in (("create", "one more live key"), ("rotate", "a new key, retiring the oldest")):
            action = sub.add_parser(name, help=text)
            action.add_argument("slug")
            action.add_argument("--reason", default="")
            action.add_argument("--json", action="store_true", help='print {"slug", "key_id", "secret"}')
            if name == "rotate":
                action.add_argument("--revoke-others", action="store_true",
                                    help="revoke every other live key now (a leaked secret)")
        revoke = sub.add_parser("revoke", help="revoke a key now")
        revoke.add_argument("key_id")
        revoke.add_argument("--reason", required=True, help="why (kept in the audit)")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            if action == "list":
                self._list(options.get("slug"), as_json=options["json"])
            elif action in ("create", "rotate"):
                partner = self._partner(options["slug"])
                issued = partner_key_issue(partner=partner, actor_name=_operator(), reason=options["reason"],
                                           rotate=action == "rotate",
                                           revoke_others=bool(options.get("revoke_others")))
                self._issued(issued, as_json=options["json"])
            else:
                key = PartnerKey.objects.filter(key_id=options["key_id"]).first()
                if key is None:
                    raise CommandError(f"No key {options['key_id']!r}.")
                if not partner_key_revoke(key=key, actor_name=_operator(), reason=options["reason"]):
                    raise CommandError(f"Key {key.key_id} was already revoked.")
                self.stdout.write(f"Key {key.key_id} revoked: requests signed with it now get 401 key_revoked.")
        except DomainError as exc:
            raise CommandError(exc.detail) from exc

    def _partner(self, slug: str) -> Partner:
        partner = Partner.objects.filter(slug=slug).first()
        if partner is None:
            raise CommandError(f"No partner {slug!r}.")
        return partner

    def _issued(self, issued: IssuedKey, *, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps({"slug": issued.slug, "key_id": issued.key_id, "secret": issued.secret}))
            return
        self.stdout.write(f"New key for {issued.slug}.")
        self.stdout.write(f"  key id: {issued.key_id}")
        self.stdout.write(f"  secret: {issued.secret}   (shown once: store it now)")

    def _list(self, slug: str | None, *, as_json: bool) -> None:
        keys = PartnerKey.objects.select_related("partner").order_by("partner__slug", "created_at")
        if slug:
            keys = keys.filter(partner=self._partner(slug))
        rows = [{"partner": k.partner.slug, "key_id": k.key_id, "created_at": k.created_at.isoformat(),
                 "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
                 "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None} for k in keys]
        if as_json:
            self.stdout.write(json.dumps(rows))
            return
        for row in rows:
            state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "live"
            self.stdout.write(f"{row['partner']:<20} {row['key_id']:<26} created {row['created_at']}  {state}")
