"""Run inside ``manage.py shell`` by the browser test: a small world in a fresh database.

Prints JSON: alice's session key and the partner's signing key.
"""

import json

from django.test import Client

from accounts.members.models import User
from scoring.ingestion.consent import consent_grant
from scoring.ingestion.models import Partner
from scoring.ingestion.partners import partner_create
from scoring.ledger import services
from social.graph.models import Friendship, ordered_pair

alice = User.objects.create_user(username="alice", email="alice@example.com", password="correct horse battery")
bob = User.objects.create_user(username="bob", email="bob@example.com", password="correct horse battery")
a, b = ordered_pair(alice.pk, bob.pk)
Friendship.objects.create(member_a_id=a, member_b_id=b)
services.member_state_ensure(member=alice)  # alice reaches the starting score first: she is listed first
services.member_state_ensure(member=bob)
key = partner_create(name="Acme Bank", slug="acme")
consent_grant(member=bob, partner=Partner.objects.get(slug="acme"))
client = Client()
client.force_login(alice)
print(json.dumps({"session": client.cookies["sessionid"].value, "key_id": key.key_id, "secret": key.secret}))
