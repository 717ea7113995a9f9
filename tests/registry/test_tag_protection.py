"""Tag protection rules: how they match, and what the manifest content model refuses with
them, on a real filesystem driver with the rules in a real SQLite database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from registry.cluster.tag_guard import DatabaseTagGuard
from registry.config import parse_settings
from registry.content import manifests, tags
from registry.content.tag_protection import (
    InvalidRule,
    ProtectionRule,
    TagProtected,
    TagProtection,
    compile_rule,
)
from registry.db.database import Database, create_db_engine, open_database
from registry.errors import Unavailable
from registry.storage import StorageDriver
from registry.tasks import tag_protections
from tests.support.registry_content import encode, filesystem_driver, image_manifest

REPO = "team/app"
SEMVER = r"v\d+\.\d+\.\d+"


def rules(*specs: tuple[str, str]) -> TagProtection:
    return TagProtection(
        tuple(compile_rule(f"r{n}", glob, tags) for n, (glob, tags) in enumerate(specs))
    )


# --- matching ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "protected"),
    [("v1.2.3", True), ("v10.0.0", True), ("v1.2.3-rc1", False), ("xv1.2.3", False)],
)
def test_the_tag_pattern_must_match_the_whole_tag(tag: str, protected: bool) -> None:
    assert rules(("team/**", SEMVER)).protects(REPO, tag) is protected


@pytest.mark.parametrize(
    ("repository", "protected"),
    [("team/app", True), ("team/a/b", True), ("team", False), ("other/app", False)],
)
def test_the_repository_glob_selects_the_repositories(repository: str, protected: bool) -> None:
    assert rules(("team/**", "latest")).protects(repository, "latest") is protected


def test_a_tag_is_protected_when_any_rule_matches_it() -> None:
    protection = rules(("team/*", "latest"), ("**", "stable|prod-.*"))
    assert protection.protects("team/app", "latest")
    assert protection.protects("infra/db", "prod-2026")
    assert not protection.protects("infra/db", "latest")
    assert not TagProtection().protects("team/app", "latest")


@pytest.mark.parametrize(
    ("name", "glob", "pattern", "needle"),
    [
        ("Bad Name", "team/**", "x", "rule name"),
        ("ok", "Team/**", "x", "only lowercase"),
        ("ok", "team/a**", "x", "whole path component"),
        ("ok", "team/**", "", "1 to 1024"),
        ("ok", "team/**", "v(", "not a regular expression"),
    ],
)
def test_an_invalid_rule_says_what_is_wrong(
    name: str, glob: str, pattern: str, needle: str
) -> None:
    with pytest.raises(InvalidRule, match=needle):
        compile_rule(name, glob, pattern)


def test_the_refusal_is_harbors_412_denied_naming_repository_tag_and_rule() -> None:
    error = TagProtected(REPO, "v1.0.0", "releases")
    assert (error.status, error.code) == (412, "DENIED")
    assert "'team/app:v1.0.0' configured as immutable" in error.message
    assert error.detail == {"repository": REPO, "tag": "v1.0.0", "rule": "releases"}


# --- the content model with a guard over the database -----------------------------------


@pytest.fixture()
def db(tmp_path: Path) -> Database:
    return open_database(parse_settings({"data_dir": str(tmp_path / "var")}))


@pytest.fixture()
def driver(tmp_path: Path) -> StorageDriver:
    return filesystem_driver(tmp_path / "storage")


@pytest.fixture()
def guard(db: Database) -> DatabaseTagGuard:
    tag_protections.create_rule(db, "releases", "team/**", SEMVER, "admin")
    return DatabaseTagGuard(lambda: db)


def push(driver: StorageDriver, guard: DatabaseTagGuard, reference: str, doc: Any) -> str:
    body, media_type = encode(doc), doc["mediaType"]
    return manifests.put_manifest(driver, REPO, reference, body, media_type, None, guard).digest


def test_the_first_push_creates_a_protected_tag_and_the_same_digest_may_come_again(
    driver: StorageDriver, guard: DatabaseTagGuard
) -> None:
    document = image_manifest(driver, REPO)
    digest = push(driver, guard, "v1.0.0", document)
    assert push(driver, guard, "v1.0.0", document) == digest
    assert tags.tag_digest(driver, REPO, "v1.0.0") == digest


def test_a_push_that_would_move_a_protected_tag_is_refused_before_anything_is_stored(
    driver: StorageDriver, guard: DatabaseTagGuard
) -> None:
    first = push(driver, guard, "v1.0.0", image_manifest(driver, REPO))
    other = image_manifest(driver, REPO)
    with pytest.raises(TagProtected) as refused:
        push(driver, guard, "v1.0.0", other)
    assert refused.value.detail["rule"] == "releases"
    assert tags.tag_digest(driver, REPO, "v1.0.0") == first
    moved = manifests.digest_of(encode(other))
    assert not manifests.has_revision(driver, REPO, moved)


def test_unprotected_tags_move_freely(driver: StorageDriver, guard: DatabaseTagGuard) -> None:
    push(driver, guard, "latest", image_manifest(driver, REPO))
    second = push(driver, guard, "latest", image_manifest(driver, REPO))
    assert tags.tag_digest(driver, REPO, "latest") == second


def test_a_protected_tag_cannot_be_deleted_by_tag_nor_through_its_digest(
    driver: StorageDriver, guard: DatabaseTagGuard
) -> None:
    digest = push(driver, guard, "v1.0.0", image_manifest(driver, REPO))
    push(driver, guard, "latest", image_manifest(driver, REPO))
    with pytest.raises(TagProtected):
        manifests.delete_manifest(driver, REPO, "v1.0.0", None, guard)
    with pytest.raises(TagProtected):
        manifests.delete_manifest(driver, REPO, digest, None, guard)
    assert tags.tag_digest(driver, REPO, "v1.0.0") == digest
    assert manifests.has_revision(driver, REPO, digest)
    manifests.delete_manifest(driver, REPO, "latest", None, guard)  # not protected
    assert tags.tag_digest(driver, REPO, "latest") is None


def test_a_manifest_only_unprotected_tags_point_at_is_deleted_by_digest(
    driver: StorageDriver, guard: DatabaseTagGuard
) -> None:
    digest = push(driver, guard, "dev", image_manifest(driver, REPO))
    manifests.delete_manifest(driver, REPO, digest, None, guard)
    assert tags.tag_digest(driver, REPO, "dev") is None
    assert not manifests.has_revision(driver, REPO, digest)


def test_a_deleted_rule_frees_its_tags(
    db: Database, driver: StorageDriver, guard: DatabaseTagGuard
) -> None:
    push(driver, guard, "v1.0.0", image_manifest(driver, REPO))
    tag_protections.delete_rule(db, "releases")
    guard.invalidate()
    moved = push(driver, guard, "v1.0.0", image_manifest(driver, REPO))
    assert tags.tag_digest(driver, REPO, "v1.0.0") == moved


# --- the guard's cache and failure modes ------------------------------------------------


def test_rules_are_cached_for_the_ttl_then_reread(db: Database) -> None:
    now = [100.0]
    guard = DatabaseTagGuard(lambda: db, ttl=5.0, clock=lambda: now[0])
    assert guard.protection().rules == ()
    tag_protections.create_rule(db, "latest", "**", "latest", "admin")
    now[0] += 4.9
    assert not guard.protection().protects(REPO, "latest")  # still the cached rules
    now[0] += 0.2
    assert guard.protection().protects(REPO, "latest")


def test_invalidate_rereads_the_rules_at_once(db: Database) -> None:
    guard = DatabaseTagGuard(lambda: db, ttl=3600.0)
    assert guard.protection().rules == ()
    tag_protections.create_rule(db, "latest", "**", "latest", "admin")
    guard.invalidate()
    assert [rule.name for rule in guard.protection().rules] == ["latest"]


def test_without_a_database_a_push_is_refused_with_503_not_let_through() -> None:
    closed = Database(create_db_engine("postgresql://postgres@127.0.0.1:9/none"))
    guard = DatabaseTagGuard(lambda: closed)
    with pytest.raises(Unavailable):
        guard.protection()
    with pytest.raises(Unavailable), guard.serialized(REPO, "v1.0.0", "sha256:" + "0" * 64):
        pass


def test_load_tag_protection_is_the_callable_retention_takes(db: Database) -> None:
    tag_protections.create_rule(db, "releases", "team/**", SEMVER, "admin")
    protected = tag_protections.load_tag_protection(db).protects
    assert protected("team/app", "v2.0.0") and not protected("team/app", "latest")
    assert isinstance(tag_protections.load_tag_protection(db).rules[0], ProtectionRule)
