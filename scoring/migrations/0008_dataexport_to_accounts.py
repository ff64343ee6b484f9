from django.db import migrations


class Migration(migrations.Migration):
    """Data exports now belong to accounts (accounts.privacy); the table stays where it is."""

    dependencies = [
        ("scoring", "0007_contagion_node_fillfactor"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="DataExport")]),
    ]
