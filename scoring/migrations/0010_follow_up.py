import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """The ledger's follow-up outbox (scoring.ledger.follow_up): what a score change still owes."""

    dependencies = [
        ('scoring', '0009_score_as_of'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='FollowUp',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('score', 'Displayed score moved'), ('base', 'Base moved')], max_length=8)),
                ('old_score', models.PositiveSmallIntegerField(null=True)),
                ('cause', models.CharField(blank=True, max_length=16)),
                ('token', models.BigIntegerField()),
                ('marked_at', models.DateTimeField(db_index=True)),
                ('swept', models.PositiveIntegerField(default=0)),
                ('member', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('member', 'kind'), name='one_follow_up_per_kind')],
            },
        ),
    ]
