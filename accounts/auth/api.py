"""Members' REST API: register, log in / out (per-device knox tokens), ``me/``."""

from __future__ import annotations

import zoneinfo

from django.contrib.auth import authenticate
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from knox.models import AuthToken
from knox.settings import knox_settings
from knox.views import LogoutAllView as KnoxLogoutAllView
from knox.views import LogoutView as KnoxLogoutView
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.members import services
from accounts.members.access import member_of
from accounts.members.models import User
from accounts.members.serializers import LoginSerializer, MeSerializer, RegisterSerializer, UserSerializer
from config.kernel.errors import ApiError
from config.kernel.openapi import errors


class AuthCode:
    INVALID_CREDENTIALS = "invalid_credentials"
    DEVICE_LIMIT = "token_limit_reached"  # 403: as many live device tokens as knox allows


class TokenSerializer(serializers.Serializer):
    """A new device token: send it as ``Authorization: Token <token>`` until ``expiry``."""

    user = UserSerializer()
    token = serializers.CharField()
    expiry = serializers.DateTimeField()


def _token_response(user: User, status_code: int) -> Response:
    """A new device token for ``user``, within knox's ``TOKEN_LIMIT_PER_USER`` live tokens (the
    member's row is locked while counting, so two logins at once cannot both take the last one)."""
    limit = knox_settings.TOKEN_LIMIT_PER_USER
    with transaction.atomic():
        if limit is not None:
            User.objects.select_for_update().filter(pk=user.pk).first()
            live = AuthToken.objects.filter(user=user).filter(Q(expiry__isnull=True) | Q(expiry__gt=timezone.now()))
            if live.count() >= limit:
                raise ApiError(403, AuthCode.DEVICE_LIMIT,
                               f"This account already has {limit} signed-in devices: log out on one of them "
                               "(or everywhere, POST auth/logoutall/) and try again.")
        instance, token = AuthToken.objects.create(user)
    return Response(
        {"user": UserSerializer(user).data, "token": token, "expiry": instance.expiry},
        status=status_code,
    )


class RegisterView(APIView):
    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []
    throttle_scope = "auth"

    @extend_schema(request=RegisterSerializer, responses={201: TokenSerializer, **errors(
        {400: ["username_taken", "weak_password"]})})
    def post(self, request: Request) -> Response:
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_register(request=request._request, **serializer.validated_data)
        return _token_response(user, status.HTTP_201_CREATED)


class LoginView(APIView):
    """Exchange a username and password for a new per-device token."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []
    throttle_scope = "auth"

    @extend_schema(request=LoginSerializer, responses={200: TokenSerializer, **errors(
        {400: [AuthCode.INVALID_CREDENTIALS], 403: [AuthCode.DEVICE_LIMIT], 429: ["locked_out"]},
        _403="As many devices as allowed are signed in: log out on one first.",
        _429="Too many requests, or too many failed logins for this username from this address (15 minutes).")})
    def post(self, request: Request) -> Response:
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # The Django request, so django-axes can count failures per (username, IP).
        user = authenticate(request._request, **serializer.validated_data)
        if user is None or not user.is_active:
            raise ApiError(400, AuthCode.INVALID_CREDENTIALS, "Wrong username or password.")
        return _token_response(user, status.HTTP_200_OK)


@extend_schema_view(post=extend_schema(request=None, responses={204: None}))
class LogoutView(KnoxLogoutView):
    """Revoke the token this request was made with."""

    throttle_scope = "auth"


@extend_schema_view(post=extend_schema(request=None, responses={204: None}))
class LogoutAllView(KnoxLogoutAllView):
    """Revoke every token of mine ("log out everywhere")."""

    throttle_scope = "auth"


class MeBodySerializer(MeSerializer):
    """Documentation of ``MeSerializer``: ``timezone`` is one of the IANA zones."""

    timezone = serializers.ChoiceField(choices=sorted(zoneinfo.available_timezones()), required=False)

    class Meta(MeSerializer.Meta):
        ref_name = "MeUpdate"


class MeView(APIView):
    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user).data)

    @extend_schema(request=MeBodySerializer, responses={200: MeSerializer, **errors({400: ["read_only"]})})
    def patch(self, request: Request) -> Response:
        me = member_of(request)
        serializer = MeSerializer(me, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = services.user_update_profile(user=me, data=serializer.validated_data)
        return Response(MeSerializer(user).data)
