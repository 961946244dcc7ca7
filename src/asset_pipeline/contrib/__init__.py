"""Integrations of the build with other tools' workflows (``asset_pipeline.contrib.django``:
``collectstatic``). Each is optional and imports its framework only when used."""
