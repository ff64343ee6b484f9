from __future__ import annotations

from django import forms


class UsernameForm(forms.Form):
    """One member, by username: add a friend, unfriend, block, unblock."""

    username = forms.CharField(max_length=150, label="Username")


class InvitationForm(forms.Form):
    email = forms.EmailField(
        max_length=254, required=False, label="Email (optional)",
        help_text="We send the link there; leave empty to share it yourself.",
    )
