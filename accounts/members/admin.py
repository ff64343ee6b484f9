from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest

from accounts.members.models import User


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

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser and super().has_add_permission(request)
