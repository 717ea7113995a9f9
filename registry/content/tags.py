"""Tags: `_manifests/tags/<tag>/current/link` plus the `index/` history, as in Distribution."""

from __future__ import annotations

from registry import layout
from registry.content.links import read_link, write_link
from registry.content.pagination import Page, page_of
from registry.content.repositories import repository_exists
from registry.errors import NameUnknown
from registry.storage import PathNotFoundError, StorageDriver


def tag_digest(driver: StorageDriver, name: str, tag: str) -> str | None:
    """The digest `tag` points at, or None when there is no such tag."""
    return read_link(driver, layout.tag_current_link(name, tag))


def set_tag(driver: StorageDriver, name: str, tag: str, digest: str) -> None:
    # History first, then the pointer: a crash in between leaves the old tag intact.
    write_link(driver, layout.tag_index_link(name, tag, digest), digest)
    write_link(driver, layout.tag_current_link(name, tag), digest)


def untag(driver: StorageDriver, name: str, tag: str) -> bool:
    """Remove the tag with its history; False when it did not exist."""
    try:
        driver.delete(layout.tag_dir(name, tag))
    except PathNotFoundError:
        return False
    return True


def all_tags(driver: StorageDriver, name: str) -> list[str] | None:
    """Every tag of the repository in lexical order, or None when it has no tags directory."""
    try:
        paths = driver.list(layout.tags_root(name))
    except PathNotFoundError:
        return None
    return sorted(path.rsplit("/", 1)[1] for path in paths)


def tags_pointing_to(driver: StorageDriver, name: str, digest: str) -> list[str]:
    """The tags whose current link is `digest` (Distribution's TagService.Lookup)."""
    return [tag for tag in all_tags(driver, name) or [] if tag_digest(driver, name, tag) == digest]


def list_tags(driver: StorageDriver, name: str, limit: int | None, last: str | None) -> Page:
    """One page of tags; NAME_UNKNOWN when the repository does not exist."""
    tags = all_tags(driver, name)
    if tags is None:
        if not repository_exists(driver, name):
            raise NameUnknown(f"repository {name!r} not known to registry", detail={"name": name})
        tags = []
    return page_of(tags, limit, last)
