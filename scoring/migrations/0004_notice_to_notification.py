"""Moderation notices join the one notification feed: every ``scoring.Notice`` row is copied to
``accounts.Notification`` (same member, kind, text, times, read state), then ``Notice`` goes.

Reversible: going back re-creates ``Notice`` and moves the moderation kinds' notifications
(account, event, dispute, flag) back into it; other kinds stay in the feed they belong to.
"""

from django.db import migrations

#: The kinds a Notice could have; all four exist in Notification.Kind with the same values.
MODERATION_KINDS = ("dispute", "event", "account", "flag")
#: What the moderation service links these kinds to today (``reverse("score-events")``).
LINKS = {"dispute": "/score/events/", "event": "/score/events/"}
BATCH = 2000


def notices_to_notifications(apps, schema_editor):
    Notice = apps.get_model("scoring", "Notice")
    Notification = apps.get_model("accounts", "Notification")
    batch = []
    for n in Notice.objects.order_by("created_at", "id").iterator(chunk_size=BATCH):
        batch.append(Notification(member_id=n.member_id, kind=n.kind, text=n.text, link=LINKS.get(n.kind, ""),
                                  created_at=n.created_at, read_at=n.read_at))
        if len(batch) >= BATCH:
            Notification.objects.bulk_create(batch)
            batch = []
    Notification.objects.bulk_create(batch)


def notifications_to_notices(apps, schema_editor):
    Notice = apps.get_model("scoring", "Notice")
    Notification = apps.get_model("accounts", "Notification")
    rows = Notification.objects.filter(kind__in=MODERATION_KINDS)
    batch = []
    for n in rows.order_by("created_at", "id").iterator(chunk_size=BATCH):
        batch.append(Notice(member_id=n.member_id, kind=n.kind, text=n.text, created_at=n.created_at,
                            read_at=n.read_at))
        if len(batch) >= BATCH:
            Notice.objects.bulk_create(batch)
            batch = []
    Notice.objects.bulk_create(batch)
    rows.delete()


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0005_gamification"),
        ("scoring", "0003_moderation"),
    ]

    operations = [
        migrations.RunPython(notices_to_notifications, notifications_to_notices),
        migrations.DeleteModel(name="Notice"),
    ]
