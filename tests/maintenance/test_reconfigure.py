"""The reconfigure task on a real platform (registry/API with two processes, a worker):
bad files and failed probes change nothing; other changes apply everywhere; rollback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from registry.cluster import generations
from registry.cluster.secrets import Keyring, fingerprint, keyring_for
from registry.config import parse_settings
from registry.db.database import Database, create_db_engine
from testbed.emulators import MotoS3
from testbed.processes import RegistryProcess, deep_merge
from testbed.task_platform import RedisNamespace, TaskPlatform


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaskPlatform]:
    namespace = RedisNamespace()
    platform = TaskPlatform(
        tmp_path_factory.mktemp("reconfigure"),
        config={
            "queue": {"broker_url": namespace.url, "key_prefix": namespace.prefix},
            "cluster": {"heartbeat_interval": "0.2s"},
        },
    )
    try:
        platform.start("registry", "worker")
        yield platform
    finally:
        platform.stop()
        namespace.cleanup()


def _db(platform: TaskPlatform) -> Database:
    return Database(create_db_engine(f"sqlite:///{platform.workdir / 'var' / 'hth.db'}"))


def _keys(platform: TaskPlatform) -> Keyring | None:
    return keyring_for(parse_settings(platform.full_config()))


def _write(path: Path, document: Any) -> str:
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return str(path)


def _reconfigure(platform: TaskPlatform, timeout: float = 60, **params: Any) -> dict[str, Any]:
    task = platform.enqueue("reconfigure", **params)
    return platform.wait_finished(task["id"], timeout)


def _changed(platform: TaskPlatform, extra: dict[str, Any]) -> dict[str, Any]:
    return deep_merge(platform.full_config(), extra)


S3_WITHOUT_BUCKET = {"accesskey": "a", "secretkey": "b", "region": "us-east-1"}

INVALID = {
    "missing key": (
        {"docker_registry": {"storage_driver": "s3", "storage_settings": S3_WITHOUT_BUCKET}},
        "docker_registry.storage_settings.bucket: field required",
    ),
    "wrong type": (
        {"docker_registry": {"gc": {"delete_untagged": "sometimes"}}},
        "docker_registry.gc.delete_untagged: Input should be a valid boolean",
    ),
    "unknown driver": (
        {"docker_registry": {"storage_driver": "floppy"}},
        "docker_registry.storage_driver: unknown storage driver 'floppy'",
    ),
    "unknown key": ({"docker_registry": {"colour": "blue"}}, "docker_registry.colour: unknown key"),
    "bad JSON": (
        '{"docker_registry": {',
        "invalid JSON at line 1 column 22: Expecting property name",
    ),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_an_invalid_file_fails_with_its_key_path_and_changes_nothing(
    platform: TaskPlatform, tmp_path: Path, case: str
) -> None:
    document, message = INVALID[case]
    if isinstance(document, dict):
        document = deep_merge({"docker_registry": {}}, document)
    before = generations.current_number(_db(platform))
    task = _reconfigure(platform, file=_write(tmp_path / "hth.json", document))
    assert task["state"] == "failed"
    assert message in task["error"], task["error"]
    assert generations.current_number(_db(platform)) == before


def test_a_probe_against_a_stopped_backend_fails_and_changes_nothing(
    platform: TaskPlatform, tmp_path: Path
) -> None:
    moto = MotoS3(tmp_path / "moto")
    moto.start()
    settings = moto.settings(moto.new_bucket())
    moto.stop()
    extra = {"docker_registry": {"storage_driver": "s3", "storage_settings": settings}}
    document = _changed(platform, extra)
    document["docker_registry"]["storage_settings"] = settings
    before = generations.current_number(_db(platform))
    task = _reconfigure(platform, file=_write(tmp_path / "hth.json", document))
    assert task["state"] == "failed"
    assert "storage probe failed at 'write'" in task["error"], task["error"]
    assert generations.current_number(_db(platform)) == before


def test_a_change_without_storage_switch_reaches_every_instance(
    platform: TaskPlatform, tmp_path: Path
) -> None:
    extra = {"logging": {"level": "debug"}, "docker_registry": {"gc": {"grace_period": "2h"}}}
    task = _reconfigure(platform, file=_write(tmp_path / "hth.json", _changed(platform, extra)))
    assert task["state"] == "succeeded", task["error"]
    result = task["result"]
    assert result["storage_switch"] is False
    # http.workers = 2: one instance of two processes, each of which applied the generation.
    assert [row["processes"] for row in result["instances"]] == [2]
    assert {row["generation"] for row in result["instances"]} == {result["generation"]}
    current = generations.current(_db(platform), _keys(platform))
    assert current is not None and current.number == result["generation"]
    assert current.settings().docker_registry.gc.grace_period == timedelta(hours=2)


def test_rollback_returns_to_the_previous_generation(
    platform: TaskPlatform, tmp_path: Path
) -> None:
    extra = {"docker_registry": {"upload_purging": {"age": "12h"}}}
    first = _reconfigure(platform, file=_write(tmp_path / "a.json", _changed(platform, extra)))
    assert first["state"] == "succeeded", first["error"]
    applied = generations.current(_db(platform), _keys(platform))
    assert applied is not None
    before = generations.get(_db(platform), applied.number - 1, _keys(platform))
    assert before is not None
    back = _reconfigure(platform, rollback=True)
    assert back["state"] == "succeeded", back["error"]
    now = generations.current(_db(platform), _keys(platform))
    assert now is not None and now.number == applied.number + 1
    assert now.document == before.document
    assert now.settings().docker_registry.upload_purging.age != timedelta(hours=12)
    assert {row["generation"] for row in back["result"]["instances"]} == {now.number}


def _stored_document(platform: TaskPlatform, number: int) -> str:
    with _db(platform).engine.connect() as connection:
        query = text("SELECT document FROM config_generations WHERE number = :n")
        return str(connection.execute(query, {"n": number}).scalar_one())


@pytest.fixture()
def moto(tmp_path: Path) -> Iterator[MotoS3]:
    server = MotoS3(tmp_path / "moto")
    server.start()
    yield server
    server.stop()


def _s3_document(platform: TaskPlatform, moto: MotoS3) -> dict[str, Any]:
    document = _changed(platform, {"docker_registry": {"storage_driver": "s3"}})
    document["docker_registry"]["storage_settings"] = moto.settings(moto.new_bucket())
    return document


def test_storage_secrets_are_stored_encrypted_and_every_instance_applies_them(
    platform: TaskPlatform, tmp_path: Path, moto: MotoS3
) -> None:
    task = _reconfigure(platform, file=_write(tmp_path / "s3.json", _s3_document(platform, moto)))
    assert task["state"] == "succeeded", task["error"]
    number = task["result"]["generation"]
    assert {row["generation"] for row in task["result"]["instances"]} == {number}
    stored = _stored_document(platform, number)
    assert MotoS3.secret_key not in stored and '"fernet": ' in stored
    key_file = platform.workdir / "var" / "secrets.key"  # SQLite: generated, owner only
    assert key_file.stat().st_mode & 0o777 == 0o600
    applied = generations.current(_db(platform), _keys(platform))
    assert applied is not None
    assert applied.document["docker_registry"]["storage_settings"]["secretkey"] == (
        MotoS3.secret_key
    )
    shown = platform.api().get(f"/api/v1/tasks/{task['id']}").text
    logged = platform.api().get(f"/api/v1/tasks/{task['id']}/log").text
    every_log = "".join(component.log_text() for component in platform.components)
    assert MotoS3.secret_key not in shown + logged + every_log
    back = _reconfigure(platform, rollback=True)  # to the filesystem, for the tests after
    assert back["state"] == "succeeded", back["error"]


def test_an_instance_whose_key_cannot_decrypt_the_secrets_fails_the_reconfigure_naming_it(
    platform: TaskPlatform, tmp_path: Path, moto: MotoS3
) -> None:
    shared = platform.full_config()
    wrong = Fernet.generate_key().decode()
    second = RegistryProcess(
        tmp_path / "second",
        {
            "data_dir": shared["data_dir"],
            "queue": shared["queue"],
            "database": {"secrets_keys": [wrong]},
            "docker_registry": {"storage_settings": shared["docker_registry"]["storage_settings"]},
            "cluster": shared["cluster"],
        },
    ).start()
    try:
        file = _write(tmp_path / "s3.json", _s3_document(platform, moto))
        task = _reconfigure(platform, file=file, wait_timeout=30)
    finally:
        second.stop()
    assert task["state"] == "failed"
    error, sealer = task["error"], _keys(platform)
    assert sealer is not None and second.proc is not None
    instance = f":{second.port}/{second.proc.pid}: SecretsError: config generation "
    assert instance in error, error
    assert (
        ": docker_registry.storage_settings.secretkey cannot be decrypted with "
        f"database.secrets_keys (key {fingerprint(wrong.encode())}): it was encrypted with key "
        f"{sealer.primary}; give that key in database.secrets_keys"
    ) in error
    assert "reverted to generation " in error and MotoS3.secret_key not in error
