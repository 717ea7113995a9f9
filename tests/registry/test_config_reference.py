"""docs/configuration.md is the reference generated from the settings models, kept current."""

from __future__ import annotations

from pathlib import Path

from registry.config.reference import reference_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_configuration_reference_is_current() -> None:
    assert DOC.read_text() == reference_markdown(), (
        "docs/configuration.md is stale: run "
        "`.venv/bin/python -m registry.config.reference > docs/configuration.md`"
    )


def test_reference_lists_every_driver_key() -> None:
    text = reference_markdown()
    for key in ("`rootdirectory`", "`accesskey`", "`accountkey`", "`authurl`", "`keyfile`"):
        assert key in text
