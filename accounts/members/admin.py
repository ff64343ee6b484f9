"""Members in the admin. A moderator (not a superuser) reaches members only: accounts that can
enter the admin themselves (staff, superusers, moderators) are neither listed nor opened for them,
and no moderator sets a password or changes an email address (with a changed email, a password
reset takes the account over)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from accounts.members.models import User
from accounts.members.moderators import admin_accounts

#: What only a superuser changes on an account through the admin.
SUPERUSER_ONLY_FIELDS = ("email",)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "email", "date_joined", "is_active", "on_global_board", "private_mode"]
    list_filter = ["is_active", "private_mode", "on_global_board", "date_joined"]
    search_fields = ["username", "email"]
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        ("Profile", {"fields": ("phone", "city", "bio", "avatar", "timezone")}),
        ("Privacy", {"fields": ("profile_visibility", "on_global_board", "private_mode")}),
    )

    def get_fieldsets(self, request: HttpRequest, obj=None):  # type: ignore[no-untyped-def]
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        # Moderators never see or change roles and permissions, nor passwords.
        hidden = {"is_staff", "is_superuser", "groups", "user_permissions", "password"}
        return tuple(
            (name, {**opts, "fields": tuple(f for f in opts["fields"] if f not in hidden)})
            for name, opts in fieldsets
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.exclude(pk__in=User.objects.filter(admin_accounts()).values("pk"))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fields = tuple(super().get_readonly_fields(request, obj))
        if request.user.is_superuser or obj is None:
            return fields
        return (*fields, *SUPERUSER_ONLY_FIELDS)

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        if not request.user.is_superuser:
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser and super().has_add_permission(request)
