"""The `reconfigure` task: validate hth.json, probe the new storage, optionally migrate to it,
record a new configuration generation and wait until every live instance applied it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from registry.cluster import generations, instances
from registry.cluster.leases import TakeLease
from registry.cluster.secrets import Keyring, keyring_for
from registry.config import (
    Settings,
    read_settings_file,
    same_storage,
    shared_document,
    with_shared,
)
from registry.db.database import Database
from registry.durations import duration_text
from registry.maintenance.migrate import migrate_bulk, migrate_final
from registry.maintenance.probe import probe_storage
from registry.maintenance.progress import Progress
from registry.storage import StorageDriver, create_driver
from registry.tasks.params import ReconfigureParams


class ReconfigureFailed(Exception):
    """Nothing usable to apply, or an instance could not apply it (named in the message)."""


@dataclass
class Cluster:
    """What the algorithm needs of its surroundings (handed over by the worker)."""

    db: Database
    running: Settings  # the effective settings now: the local file plus the current generation
    driver: StorageDriver  # the storage driver of `running`
    take_lease: TakeLease
    progress: Progress
    instance_ttl: timedelta
    task_id: str | None = None

    @property
    def keyring(self) -> Keyring | None:
        """The keys that seal the secrets of the generations this task records."""
        return keyring_for(self.running)


def reconfigure(params: ReconfigureParams, cluster: Cluster) -> dict[str, Any]:
    db, progress = cluster.db, cluster.progress
    progress("validating", 0, 1)
    expected = generations.current_number(db)
    document, source = _target(params, cluster)
    target = with_shared(cluster.running, document)
    switching = not same_storage(cluster.running, target)
    result: dict[str, Any] = {"previous_generation": expected, "source": source}
    result["storage_switch"] = switching
    if params.migrate and not switching:
        raise ReconfigureFailed("--migrate needs a change of storage backend; storage is the same")
    new_driver = _probed_driver(target, result, progress) if switching else None
    if expected == 0:  # keep what runs now as generation 1, so that a rollback can return to it
        running = shared_document(cluster.running)
        generations.record(db, running, "running settings", 0, keyring=cluster.keyring)
        expected = 1
    try:
        if params.migrate and new_driver is not None:
            stats = migrate_bulk(cluster.driver, new_driver, progress, params.workers)
            cluster.progress.log(f"bulk copy done: {stats.as_dict()}")
            with cluster.take_lease("readonly"):
                migrate_final(cluster.driver, new_driver, progress, stats, params.workers)
                result["migration"] = stats.as_dict()
                _switch(params, cluster, document, source, expected, result)
        else:
            _switch(params, cluster, document, source, expected, result)
    finally:
        if new_driver is not None:
            new_driver.close()
    return result


def _target(params: ReconfigureParams, cluster: Cluster) -> tuple[dict[str, Any], str]:
    """(the shared document to apply, where it came from); ConfigError if the file is bad."""
    if params.rollback:
        before = generations.previous(cluster.db, cluster.keyring)
        if before is None:
            raise ReconfigureFailed("no previous configuration generation to roll back to")
        return before.document, f"rollback to generation {before.number}"
    path = params.file or cluster.running.source
    if path is None:
        raise ReconfigureFailed("no configuration file: give params.file (hth-ctl --file)")
    return shared_document(read_settings_file(Path(path))), str(path)


def _probed_driver(target: Settings, result: dict[str, Any], progress: Progress) -> StorageDriver:
    progress("probing the new storage", 0, 1)
    registry = target.docker_registry
    driver = create_driver(registry.storage_driver, target.driver_settings())
    try:
        result["probe"] = probe_storage(driver)
    except Exception:
        driver.close()
        raise
    progress("probing the new storage", 1, 1)
    return driver


def _switch(
    params: ReconfigureParams,
    cluster: Cluster,
    document: dict[str, Any],
    source: str,
    expected: int,
    result: dict[str, Any],
) -> None:
    started = time.monotonic()
    generation = generations.record(
        cluster.db, document, source, expected, cluster.task_id, keyring=cluster.keyring
    )
    cluster.progress.log(f"recorded configuration generation {generation.number} ({source})")
    result["generation"] = generation.number
    try:
        table = wait_for_generation(cluster, generation.number, params.wait_timeout)
    except ReconfigureFailed as exc:
        before = generations.get(cluster.db, expected, cluster.keyring)
        assert before is not None
        revert = f"revert to generation {expected}"
        back = generations.record(
            cluster.db, before.document, revert, generation.number, keyring=cluster.keyring
        )
        raise ReconfigureFailed(
            f"{exc}; reverted to generation {expected}'s settings as generation {back.number}"
        ) from None
    result["instances"] = table
    result["apply_seconds"] = round(time.monotonic() - started, 3)


def wait_for_generation(cluster: Cluster, number: int, timeout: timedelta) -> list[dict[str, Any]]:
    """Per-instance table once every live instance reports `number`; fails naming the
    instances that reported an error or did not report it in time."""
    deadline = time.monotonic() + timeout.total_seconds()
    while True:
        rows = instances.live_instances(cluster.db, cluster.instance_ttl)
        table = [_instance_row(row, number) for row in rows]
        failed = [f"{t['instance']}: {t['error']}" for t in table if t["error"]]
        if failed:
            problems = "; ".join(failed)
            raise ReconfigureFailed(f"instances could not apply generation {number}: {problems}")
        pending = [t["instance"] for t in table if t["generation"] < number]
        cluster.progress("waiting for instances", len(table) - len(pending), len(table))
        if not pending:
            return table
        if time.monotonic() > deadline:
            raise ReconfigureFailed(
                f"instances did not apply generation {number} within {duration_text(timeout)}: "
                + ", ".join(pending)
            )
        time.sleep(0.2)


def _instance_row(row: instances.InstanceView, number: int) -> dict[str, Any]:
    return {
        "instance": row.id,
        "processes": len(row.live_processes),  # the generation is the lowest they applied
        "address": row.address,
        "generation": row.config_generation,
        "state": row.state,
        "error": generations.apply_error(number, row.detail),
    }
