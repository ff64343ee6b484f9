"""The product's example perks (DESIGN.md §9). Reversible: unapplying removes exactly these
three (by slug) with their grants; a perk an operator edited since is removed too."""

from django.db import migrations

EXAMPLES = [
    {
        "slug": "deposit-free-rental",
        "name": "Deposit-free rental",
        "description": "Rent a flat, a car or equipment from participating partners without a deposit.",
        "min_score": 650,
    },
    {
        "slug": "priority-support",
        "name": "Priority support",
        "description": "Your questions go to the front of the queue, with an answer within a working day.",
        "min_score": 700,
    },
    {
        "slug": "travel-fast-track",
        "name": "Travel fast-track",
        "description": "Fast-track lanes and simpler check-in with participating travel partners.",
        "min_score": 750,
    },
]


def add_examples(apps, schema_editor):
    Perk = apps.get_model("leaderboards", "Perk")
    for example in EXAMPLES:
        fields = {k: v for k, v in example.items() if k != "slug"}
        Perk.objects.get_or_create(slug=example["slug"], defaults=fields)


def remove_examples(apps, schema_editor):
    Perk = apps.get_model("leaderboards", "Perk")
    Perk.objects.filter(slug__in=[e["slug"] for e in EXAMPLES]).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("leaderboards", "0002_gamification"),
    ]

    operations = [
        migrations.RunPython(add_examples, remove_examples),
    ]
