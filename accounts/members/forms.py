import zoneinfo

from django import forms

from accounts.members.models import User


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["first_name", "last_name", "phone", "city", "bio", "avatar", "timezone"]
        widgets = {"bio": forms.Textarea(attrs={"rows": 3})}

    def clean_timezone(self) -> str:
        value = self.cleaned_data["timezone"]
        if value not in zoneinfo.available_timezones():
            raise forms.ValidationError("Unknown time zone (for example Europe/Paris).")
        return value


class PrivacyForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["profile_visibility", "on_global_board", "private_mode"]
