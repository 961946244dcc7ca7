from __future__ import annotations

from django.db import migrations, models

ARTICLES = [
    ("Fast pages without rewriting views", "Validators, 304s and compression for every page."),
    ("A build step for static files", "Fingerprints, WebP and AVIF, WOFF2 and a manifest."),
    ("Invalidate on write", "A model save drops every cached page built from the row."),
]


def seed(apps, schema_editor):  # type: ignore[no-untyped-def]
    Article = apps.get_model("articles", "Article")
    for title, body in ARTICLES:
        Article.objects.create(title=title, body=body)


class Migration(migrations.Migration):
    initial = True
    dependencies: list[tuple[str, str]] = []
    operations = [
        migrations.CreateModel(
            name="Article",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("title", models.CharField(max_length=200)),
                ("body", models.TextField()),
                ("image", models.CharField(default="img/hero.jpg", max_length=200)),
            ],
            options={"ordering": ["pk"]},
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
