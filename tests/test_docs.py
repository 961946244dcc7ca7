"""The configuration reference is generated from the code and must not be stale."""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_configuration_reference_is_current() -> None:
    # as a contributor runs it: a fresh interpreter, the script's own exit status
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "config_reference.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, (
        done.stdout + done.stderr + "\nRegenerate with `python scripts/config_reference.py` "
        "(or `make docs`) and commit docs/configuration.md."
    )


def test_reference_covers_every_middleware_option_and_config_class() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for option in ("cache", "static", "compression", "policy", "metrics", "admin"):
        assert f"| `{option}` |" in text
    for heading in ("## Response cache", "## Static files", "## Build", "## Upload"):
        assert heading in text


def _sections(text: str) -> dict[str, str]:
    parts = text.split("\n## ")[1:]
    return {part.split("\n", 1)[0]: part for part in parts}


def _options_of(obj: object) -> list[str]:
    if dataclasses.is_dataclass(obj):
        return [f.name for f in dataclasses.fields(obj) if f.init and not f.name.startswith("_")]
    target = obj.__init__ if inspect.isclass(obj) else obj  # type: ignore[misc]
    params = list(inspect.signature(target).parameters.values())  # type: ignore[arg-type]
    if inspect.isclass(obj):
        params = params[1:]
    skip = (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    return [p.name for p in params if p.kind not in skip]


def test_every_public_name_and_option_is_in_the_reference() -> None:
    # independent of the script's own lists: what a user can import must be documented,
    # each option in its own section's table
    import perf_middleware
    from asset_pipeline.sw import registration_snippet

    sections = _sections((ROOT / "docs" / "configuration.md").read_text(encoding="utf-8"))
    public = {n: getattr(perf_middleware, n) for n in perf_middleware.__all__ if n != "__version__"}
    public["registration_snippet"] = registration_snippet
    missing: list[str] = []
    for name, obj in sorted(public.items()):
        heading = next(
            (h for h in sections if h in (name, f"@{name}") or h.endswith(f"(`{name}`)")), None
        )
        if heading is None:
            missing.append(f"{name} (no section)")
            continue
        if getattr(obj, "_is_protocol", False):
            methods = [m for m in vars(obj) if not m.startswith("_") and callable(vars(obj)[m])]
            missing += [f"{name}.{m}" for m in methods if f"| `{m}(" not in sections[heading]]
            continue
        missing += [
            f"{name}({option}=...)"
            for option in _options_of(obj)
            if f"| `{option}` |" not in sections[heading]
        ]
    assert not missing, (
        f"docs/configuration.md lacks: {', '.join(missing)}. HINT: add the name to CALLABLES or "
        "SECTIONS in scripts/config_reference.py, then run `python scripts/config_reference.py` "
        "(or `make docs`)."
    )


def test_readme_starts_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```")[1]
    assert "make demo" in first_block
    assert "make test" in first_block
