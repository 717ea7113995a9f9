"""Storage secrets in configuration generations: encrypted in the database row, decrypted with
each process's own keys, rotated with `hth-ctl secrets rotate`; a wrong key or a missing one
is an error that names the key, never a secret stored in clear."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from registry.cluster import generations
from registry.cluster.secrets import SecretsError, fingerprint, keyring_for
from registry.config import ConfigError, Settings, parse_settings, redacted, shared_document
from registry.db.database import Database, open_database
from testbed.processes import REPO_ROOT
from testbed.task_platform import postgres_database

SECRET = "hth-very-secret-value-0123456789"
DRIVERS = {
    "s3": ("secretkey", {"accesskey": "AK", "bucket": "b", "region": "r"}),
    "azure": ("accountkey", {"accountname": "a", "container": "c"}),
    "swift": (
        "password",
        {"authurl": "http://127.0.0.1:9/auth", "username": "u", "container": "c"},
    ),
    "oss": ("accesskeysecret", {"accesskeyid": "id", "bucket": "b", "region": "r"}),
}


def settings_for(data_dir: Path, keys: list[str] | None = None, url: str | None = None) -> Settings:
    database: dict[str, Any] = {"url": url}
    if keys is not None:
        database["secrets_keys"] = keys
    return parse_settings({"data_dir": str(data_dir), "database": database})


def storage_document(driver: str = "s3") -> dict[str, Any]:
    key, others = DRIVERS[driver]
    storage = {"storage_driver": driver, "storage_settings": {**others, key: SECRET}}
    return shared_document(parse_settings({"docker_registry": storage}))


def stored(db: Database, number: int) -> str:
    with db.engine.connect() as connection:
        query = text("SELECT document FROM config_generations WHERE number = :n")
        return str(connection.execute(query, {"n": number}).scalar_one())


def new_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture()
def key() -> str:
    return new_key()


@pytest.mark.parametrize("driver", list(DRIVERS))
def test_the_database_row_holds_the_secret_only_encrypted(
    tmp_path: Path, key: str, driver: str
) -> None:
    settings = settings_for(tmp_path, [key])
    db, keyring = open_database(settings), keyring_for(settings)
    generations.record(db, storage_document(driver), "hth.json", 0, keyring=keyring)
    row = json.loads(stored(db, 1))
    sealed = row["docker_registry"]["storage_settings"][DRIVERS[driver][0]]
    assert set(sealed) == {"fernet", "key"} and sealed["key"] == fingerprint(key.encode())
    assert SECRET not in stored(db, 1)
    found = generations.current(db, keyring)
    assert found is not None
    assert found.settings().driver_settings().model_dump()[DRIVERS[driver][0]] is not None
    assert found.document["docker_registry"]["storage_settings"][DRIVERS[driver][0]] == SECRET


def test_without_a_key_a_sqlite_platform_generates_one_only_its_owner_reads(
    tmp_path: Path,
) -> None:
    forked = multiprocessing.get_context("fork")
    with forked.Pool(4) as pool:  # processes starting at once agree on one key
        seen = pool.map(_primary_of, [str(tmp_path)] * 8)
    key_file = tmp_path / "secrets.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert set(seen) == {fingerprint(key_file.read_bytes().strip())}
    assert [p.name for p in tmp_path.iterdir()] == ["secrets.key"]  # no partial file left


def _primary_of(data_dir: str) -> str:
    keyring = keyring_for(settings_for(Path(data_dir)))
    assert keyring is not None
    return keyring.primary


@pytest.fixture()
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


def test_postgresql_without_a_key_refuses_to_store_a_secret_and_names_the_key(
    tmp_path: Path, postgres_url: str
) -> None:
    settings = settings_for(tmp_path, url=postgres_url)
    db, keyring = open_database(settings), keyring_for(settings)
    assert keyring is None and not (tmp_path / "secrets.key").exists()
    with pytest.raises(SecretsError) as refused:
        generations.record(db, storage_document(), "hth.json", 0, keyring=keyring)
    assert str(refused.value).startswith(
        "config generation 1: docker_registry.storage_settings.secretkey is a secret and "
        "database.secrets_keys is not set"
    )
    assert generations.current_number(db) == 0
    plain = shared_document(parse_settings({}))  # no secret: nothing to protect
    generations.record(db, plain, "hth.json", 0, keyring=keyring)
    assert generations.current_number(db) == 1


def test_postgresql_with_a_key_stores_the_secret_encrypted(
    tmp_path: Path, postgres_url: str, key: str
) -> None:
    settings = settings_for(tmp_path, [key], url=postgres_url)
    db, keyring = open_database(settings), keyring_for(settings)
    generations.record(db, storage_document("azure"), "hth.json", 0, keyring=keyring)
    assert SECRET not in stored(db, 1)
    found = generations.current(db, keyring)
    assert found is not None and found.document == storage_document("azure")


def test_a_wrong_key_fails_naming_the_key_the_secret_and_the_generation(
    tmp_path: Path, key: str
) -> None:
    writer = settings_for(tmp_path, [key])
    generations.record(
        open_database(writer), storage_document(), "hth.json", 0, keyring=keyring_for(writer)
    )
    wrong = new_key()
    reader = settings_for(tmp_path, [wrong])
    found = generations.current(open_database(reader), keyring_for(reader))
    assert found is not None
    with pytest.raises(SecretsError) as failed:
        found.settings()
    assert str(failed.value) == (
        "config generation 1: docker_registry.storage_settings.secretkey cannot be decrypted "
        f"with database.secrets_keys (key {fingerprint(wrong.encode())}): it was encrypted with "
        f"key {fingerprint(key.encode())}; give that key in database.secrets_keys (while "
        "rotating: the new key first, then the old ones)"
    )
    assert SECRET not in str(failed.value)


def test_rotation_re_encrypts_every_generation_with_the_new_key(tmp_path: Path, key: str) -> None:
    old = settings_for(tmp_path, [key])
    db = open_database(old)
    for number in range(2):
        document = storage_document("s3" if number == 0 else "swift")
        generations.record(db, document, "hth.json", number, keyring=keyring_for(old))
    new = new_key()
    both = settings_for(tmp_path, [new, key])
    report = generations.reseal(db, _keys(both))
    assert (report.total, report.resealed, report.failed) == (2, [1, 2], {})
    assert fingerprint(key.encode()) not in stored(db, 1) + stored(db, 2)
    assert generations.reseal(db, _keys(both)).resealed == []  # done: nothing left to do
    only_new = keyring_for(settings_for(tmp_path, [new]))
    read = [generations.get(db, number, only_new) for number in (1, 2)]
    assert [found.document if found else None for found in read] == [
        storage_document("s3"),
        storage_document("swift"),
    ]
    only_old = generations.get(db, 1, keyring_for(old))
    assert only_old is not None
    with pytest.raises(SecretsError):
        only_old.settings()


def _keys(settings: Settings) -> Any:
    keyring = keyring_for(settings)
    assert keyring is not None
    return keyring


def test_rows_written_in_clear_before_encryption_still_load_and_the_first_write_seals_them(
    tmp_path: Path, key: str
) -> None:
    settings = settings_for(tmp_path, [key])
    db, keyring = open_database(settings), keyring_for(settings)
    legacy = json.dumps(storage_document(), sort_keys=True)  # as the previous version wrote it
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO config_generations (number, document, source, created_at) "
                "VALUES (1, :document, 'hth.json', CURRENT_TIMESTAMP)"
            ),
            {"document": legacy},
        )
    found = generations.current(db, keyring)
    assert found is not None and found.document == storage_document()
    generations.record(db, storage_document("oss"), "hth.json", 1, keyring=keyring)
    assert SECRET not in stored(db, 1) + stored(db, 2)
    again = generations.get(db, 1, keyring)
    assert again is not None and again.document == storage_document()


def test_the_keys_are_validated_by_key_path_and_never_shown(tmp_path: Path, key: str) -> None:
    with pytest.raises(ConfigError) as refused:
        settings_for(tmp_path, [key, "not-a-key"])
    assert str(refused.value).startswith("database.secrets_keys: item 1 is not a Fernet key")
    assert redacted(settings_for(tmp_path, [key]))["database"]["secrets_keys"] == "***"


def hth_ctl(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cli.main", "--config", str(config), *args]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)


def test_hth_ctl_rotates_and_names_generations_it_cannot_decrypt(tmp_path: Path, key: str) -> None:
    old = settings_for(tmp_path, [key])
    db = open_database(old)
    generations.record(db, storage_document(), "hth.json", 0, keyring=keyring_for(old))
    made = hth_ctl(tmp_path / "none.json", "secrets", "new-key")
    new = made.stdout.strip()
    assert made.returncode == 0 and len(new) == 44
    config = tmp_path / "hth.json"
    config.write_text(json.dumps({"data_dir": str(tmp_path), "database": {"secrets_keys": [new]}}))
    refused = hth_ctl(config, "secrets", "rotate")  # the old key is not given
    assert refused.returncode == 1 and "generations 1 could not be decrypted" in refused.stderr
    assert f"it was encrypted with key {fingerprint(key.encode())}" in refused.stderr
    config.write_text(
        json.dumps({"data_dir": str(tmp_path), "database": {"secrets_keys": [new, key]}})
    )
    rotated = hth_ctl(config, "secrets", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    assert rotated.stdout.startswith(
        f"re-encrypted 1 of 1 configuration generations with key {fingerprint(new.encode())}"
    )
    assert json.loads(stored(db, 1))["docker_registry"]["storage_settings"]["secretkey"][
        "key"
    ] == fingerprint(new.encode())
