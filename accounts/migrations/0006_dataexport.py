import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """Data exports move here from scoring (accounts.privacy); the table ``scoring_dataexport`` stays."""

    dependencies = [
        ("accounts", "0005_gamification"),
        ("scoring", "0008_dataexport_to_accounts"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="DataExport",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name="ID")),
                        ("status", models.CharField(choices=[("pending", "Being prepared"), ("ready", "Ready"),
                                                             ("failed", "Failed"), ("expired", "Expired")],
                                                    default="pending", max_length=16)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("ready_at", models.DateTimeField(blank=True, null=True)),
                        ("expires_at", models.DateTimeField(blank=True, null=True)),
                        ("file_name", models.CharField(blank=True, max_length=255)),
                        ("size", models.PositiveIntegerField(default=0)),
                        ("member", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                                     related_name="data_exports", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={"db_table": "scoring_dataexport", "ordering": ["-created_at", "-id"]},
                ),
            ],
        ),
    ]
