"""The restore's swap: two directories exchanged in one step."""

from __future__ import annotations

from pathlib import Path

from registry.maintenance.backup.swap import exchange_dirs


def test_two_directories_are_exchanged(tmp_path: Path) -> None:
    fresh, live = tmp_path / ".storage.restore", tmp_path / "storage"
    for folder, marker in ((fresh, "new"), (live, "old")):
        (folder / "docker").mkdir(parents=True)
        (folder / "docker" / marker).write_text(marker)
    assert exchange_dirs(fresh, live) is True
    assert (live / "docker" / "new").is_file() and (fresh / "docker" / "old").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".storage.restore", "storage"]


def test_a_missing_live_directory_is_simply_created(tmp_path: Path) -> None:
    fresh, live = tmp_path / ".storage.restore", tmp_path / "storage"
    fresh.mkdir()
    (fresh / "data").write_text("new")
    assert exchange_dirs(fresh, live) is False
    assert (live / "data").read_text() == "new" and not fresh.exists()
