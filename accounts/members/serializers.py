from __future__ import annotations

import zoneinfo

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from accounts.members.models import User
from accounts.members.selectors import profile_completeness
from config.kernel.serializers import StrictModelSerializer, StrictSerializer


class UserSerializer(serializers.ModelSerializer):
    """A member as they see themselves."""

    class Meta:
        model = User
        fields = ["username", "email", "date_joined"]
        read_only_fields = fields


class MeSerializer(StrictModelSerializer):
    """``GET/PATCH /api/v1/me/``: my profile and privacy settings."""

    completeness = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "username", "email", "first_name", "last_name", "phone", "city", "bio", "timezone",
            "profile_visibility", "on_global_board", "private_mode", "date_joined",
            "completeness",
        ]
        read_only_fields = ["username", "email", "date_joined", "completeness"]

    def get_completeness(self, user: User) -> dict:
        c = profile_completeness(user=user)
        return {"filled": c.filled, "of": 5, "fraction": c.fraction, "missing": c.missing}

    def validate_timezone(self, value: str) -> str:
        if value not in zoneinfo.available_timezones():
            raise serializers.ValidationError("Unknown time zone.", code="invalid")
        return value

    def to_internal_value(self, data):  # type: ignore[no-untyped-def]
        read_only = sorted(set(data) & set(self.Meta.read_only_fields)) if isinstance(data, dict) else []
        if read_only:
            raise serializers.ValidationError(
                {name: ["This field is read-only."] for name in read_only}, code="read_only"
            )
        return super().to_internal_value(data)


class RegisterSerializer(StrictSerializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=256, trim_whitespace=False)

    def validate(self, attrs: dict) -> dict:
        candidate = User(username=attrs["username"], email=attrs["email"])
        try:
            validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}, code="weak_password") from exc
        return attrs


class LoginSerializer(StrictSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False)
