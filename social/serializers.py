"""The social API's shapes. Read shapes are plain serializers over selector results; write
shapes are strict (an unknown field is an error, not ignored)."""

from __future__ import annotations

from rest_framework import serializers

from config.kernel.serializers import StrictSerializer
from social.graph.selectors import outgoing_status


class FriendSerializer(serializers.Serializer):
    username = serializers.CharField()
    score = serializers.IntegerField(allow_null=True, help_text="Null when not scored yet or private.")
    band = serializers.CharField(allow_null=True)
    since = serializers.DateTimeField(help_text="When the friendship was accepted.")
    vests_at = serializers.DateTimeField(help_text="From then on it counts for friend contagion.")
    vested = serializers.BooleanField()
    private = serializers.BooleanField(help_text="The friend is in private mode: score hidden.")


class IncomingRequestSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    from_ = serializers.CharField(source="from_user.username")
    created_at = serializers.DateTimeField()

    def get_fields(self) -> dict:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")  # "from" is a Python keyword
        return fields


class OutgoingRequestSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    to = serializers.CharField(source="to_user.username")
    status = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_status(self, request) -> str:  # type: ignore[no-untyped-def]
        return outgoing_status(request)


class FriendRequestListSerializer(serializers.Serializer):
    incoming = IncomingRequestSerializer(many=True)
    outgoing = OutgoingRequestSerializer(many=True)


class FriendRequestCreateSerializer(StrictSerializer):
    to = serializers.CharField(max_length=150)


class BlockSerializer(serializers.Serializer):
    username = serializers.CharField(source="blocked.username")
    created_at = serializers.DateTimeField()


class BlockCreateSerializer(StrictSerializer):
    username = serializers.CharField(max_length=150)


class SuggestionSerializer(serializers.Serializer):
    username = serializers.CharField()
    mutual_friends = serializers.IntegerField()


class InvitationSerializer(serializers.Serializer):
    """An invitation as its creator lists it later: never the token."""

    id = serializers.IntegerField(source="pk")
    email = serializers.EmailField(allow_blank=True)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    status = serializers.CharField(help_text="open, used or expired")
    used_by = serializers.CharField(source="used_by.username", allow_null=True, default=None)


class InvitationCreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="invitation.pk")
    token = serializers.CharField(help_text="Shown once, now: only its hash is stored.")
    url = serializers.URLField()
    expires_at = serializers.DateTimeField(source="invitation.expires_at")
    email = serializers.EmailField(source="invitation.email", allow_blank=True)


class InvitationCreateSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True, default="")


class InvitationAcceptedSerializer(serializers.Serializer):
    friend = FriendSerializer()
