from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from accounts.members.moderators import MODERATOR_PERMISSIONS, MODERATORS_GROUP
from social.graph import services
from social.graph.models import Friendship
from social.invitations import services as invitations_services
from social.invitations.models import Invitation
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def moderator_client(client, world):  # type: ignore[no-untyped-def]
    moderator = UserFactory(username="mod")
    moderator.groups.add(Group.objects.get(name=MODERATORS_GROUP))
    client.force_login(moderator)
    return client


def test_social_permissions_are_registered_for_moderators():
    for perm in ["social.view_friendship", "social.change_friendship", "social.view_friendrequest",
                 "social.view_block", "social.view_invitation"]:
        assert perm in MODERATOR_PERMISSIONS
    assert "social.delete_friendship" not in MODERATOR_PERMISSIONS
    codenames = set(Group.objects.get(name=MODERATORS_GROUP).permissions.values_list("codename", flat=True))
    assert {"view_friendship", "change_friendship", "view_invitation"} <= codenames


def test_moderator_lists_and_searches(moderator_client, world):
    services.friend_request_send(from_user=world.mallory, to_username="alice")
    services.block_create(blocker=world.carol, username="mallory")
    for url in ["/admin/social/friendship/", "/admin/social/friendrequest/", "/admin/social/block/",
                "/admin/social/invitation/", "/admin/social/friendship/?state=active&via=request"]:
        assert moderator_client.get(url).status_code == 200, url
    page = moderator_client.get("/admin/social/friendship/?q=carol")
    assert page.context["cl"].result_count == 1


def test_invitations_never_show_a_token(moderator_client, world):
    created = invitations_services.invitation_create(inviter=world.alice, url_for=lambda t: t)
    invitation = Invitation.objects.get()
    for url in ["/admin/social/invitation/", f"/admin/social/invitation/{invitation.pk}/change/"]:
        html = moderator_client.get(url).content.decode()
        assert created.token not in html
        assert invitation.token_hash not in html


def test_moderator_cuts_a_friendship_with_confirmation(moderator_client, world, signals_log,
                                                       django_capture_on_commit_callbacks):
    pk = world.bob_carol.pk
    data = {"action": "cut", "_selected_action": [pk]}
    confirm = moderator_client.post("/admin/social/friendship/", data)
    assert confirm.status_code == 200
    assert b"Cut 1 friendship(s)" in confirm.content
    assert Friendship.objects.get(pk=pk).ended_at is None  # nothing happens before confirming
    with django_capture_on_commit_callbacks(execute=True):
        done = moderator_client.post("/admin/social/friendship/",
                                     {**data, "confirm": "1", "reason": "fake accounts ring"})
    assert done.status_code == 302
    row = Friendship.objects.get(pk=pk)
    assert (row.ended_reason, row.ended_note, row.ended_by.username) == ("moderator", "fake accounts ring", "mod")
    assert [(n, kw["reason"], kw["friendship_id"]) for n, kw in signals_log] == [("ended", "moderator", pk)]


def test_moderator_cannot_add_edit_or_delete_rows(moderator_client, world):
    pk = world.alice_bob.pk
    assert moderator_client.get("/admin/social/friendship/add/").status_code == 403
    assert moderator_client.get(f"/admin/social/friendship/{pk}/delete/").status_code == 403
    moderator_client.post(f"/admin/social/friendship/{pk}/change/", {"ended_note": "x"})
    assert Friendship.objects.get(pk=pk).ended_note == ""
