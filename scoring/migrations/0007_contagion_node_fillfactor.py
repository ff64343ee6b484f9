"""Contagion rows leave room on their pages (PostgreSQL ``fillfactor = 50``).

Every push and every global solve rewrites ``scoring_contagionnode`` rows without touching an
indexed column; with free space on the page PostgreSQL updates them in place (HOT: no new index
entry, less WAL). At the default fillfactor (100) the pages a bulk load fills leave no room:
0.7 % of the updates were HOT on a 100k-member benchmark, ≈ 98 % with 50 (the rebuild's write of
every row: 1.03 → 0.83 s). The setting applies to pages written from now on; ``VACUUM FULL
scoring_contagionnode`` (a maintenance window: it locks the table) repacks an existing table.
"""

from django.db import migrations


def fillfactor_50(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE scoring_contagionnode SET (fillfactor = 50)")


def fillfactor_default(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE scoring_contagionnode RESET (fillfactor)")


class Migration(migrations.Migration):

    dependencies = [
        ('scoring', '0006_contagion_tick_watermark'),
    ]

    operations = [
        migrations.RunPython(fillfactor_50, fillfactor_default),
    ]
