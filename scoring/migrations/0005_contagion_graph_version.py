"""``ContagionGraph``: one row whose version moves with every change of the applied friendships.

On PostgreSQL a statement-level trigger on ``scoring_contagionedge`` (INSERT, UPDATE, DELETE,
TRUNCATE) sets it to ``nextval`` of its own sequence inside the writing transaction: workers can
cache the adjacency and know, from one column read in the same snapshot as the node rows, whether
it is still the graph the database holds. Sequences never hand out a value twice, so a version
seen inside a transaction that rolled back cannot come back with other edges. The trigger upserts
the row, so a flushed (test) database gets it back at its first edge write.
"""

from django.db import migrations, models

CREATE = """
CREATE SEQUENCE scoring_contagiongraph_seq;
CREATE FUNCTION scoring_contagiongraph_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO scoring_contagiongraph (id, version) VALUES (1, nextval('scoring_contagiongraph_seq'))
        ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version;
    RETURN NULL;
END
$$;
CREATE TRIGGER scoring_contagionedge_graph_version
    AFTER INSERT OR UPDATE OR DELETE ON scoring_contagionedge
    FOR EACH STATEMENT EXECUTE FUNCTION scoring_contagiongraph_bump();
CREATE TRIGGER scoring_contagionedge_graph_version_truncate
    AFTER TRUNCATE ON scoring_contagionedge
    FOR EACH STATEMENT EXECUTE FUNCTION scoring_contagiongraph_bump();
"""
DROP = """
DROP TRIGGER IF EXISTS scoring_contagionedge_graph_version_truncate ON scoring_contagionedge;
DROP TRIGGER IF EXISTS scoring_contagionedge_graph_version ON scoring_contagionedge;
DROP FUNCTION IF EXISTS scoring_contagiongraph_bump();
DROP SEQUENCE IF EXISTS scoring_contagiongraph_seq;
"""


def the_row(apps, schema_editor):
    apps.get_model("scoring", "ContagionGraph").objects.create(id=1, version=0)


def trigger_create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def trigger_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("scoring", "0004_notice_to_notification")]

    operations = [
        migrations.CreateModel(
            name="ContagionGraph",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("version", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(the_row, migrations.RunPython.noop),
        migrations.RunPython(trigger_create, trigger_drop),
    ]
