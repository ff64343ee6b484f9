"""The score page's what-if form: a hypothetical event, as the what-if simulator takes it."""

from django import forms

from scoring.ingestion.models import Event


class WhatIfForm(forms.Form):
    kind = forms.ChoiceField(choices=Event.Kind.choices, initial=Event.Kind.BILL_PAYMENT)
    amount = forms.DecimalField(max_digits=14, decimal_places=2, min_value=0.01, initial=100)
    timing = forms.ChoiceField(
        choices=[("0", "on time"), ("14", "14 days late"), ("30", "30 days late"), ("60", "60 days late"),
                 ("missed", "missed")],
        initial="0", help_text="For bills and card repayments.",
    )

    def scenario(self) -> dict:
        data = self.cleaned_data
        purchase = data["kind"] == Event.Kind.PURCHASE
        missed = not purchase and data["timing"] == "missed"
        days = 0 if purchase or missed else int(data["timing"])
        return {"kind": data["kind"], "amount": data["amount"], "days_late": days, "missed": missed, "partner_name": ""}
