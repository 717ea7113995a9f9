"""Conformance: list, move, delete and walk over a tree, for every driver."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from registry.storage import PathNotFoundError, StorageDriver

# Names chosen so that byte order and component order differ ('-' and '.' sort before '/').
TREE = ["a/x", "a.b", "a-c/y/z", "b", "ab/w"]


def make_tree(storage: StorageDriver, root: str) -> None:
    for name in TREE:
        storage.put_content(f"{root}/{name}", name.encode())


def test_list_gives_direct_children_sorted(storage: StorageDriver, root: str) -> None:
    make_tree(storage, root)
    expected = [f"{root}/{name}" for name in ("a", "a-c", "a.b", "ab", "b")]
    assert storage.list(root) == expected
    assert storage.list(f"{root}/a-c") == [f"{root}/a-c/y"]
    assert root in storage.list("/")


def test_list_of_missing_directory_raises_path_not_found(storage: StorageDriver, root: str) -> None:
    storage.put_content(f"{root}/file", b"x")
    for missing in (f"{root}/missing", f"{root}/file", f"{root}/fil"):
        with pytest.raises(PathNotFoundError):
            storage.list(missing)


def test_move_puts_the_file_at_dest_and_removes_source(storage: StorageDriver, root: str) -> None:
    storage.put_content(f"{root}/src/file", b"moving")
    storage.move(f"{root}/src/file", f"{root}/deep/new/dir/file")
    assert storage.get_content(f"{root}/deep/new/dir/file") == b"moving"
    with pytest.raises(PathNotFoundError):
        storage.stat(f"{root}/src/file")


def test_move_replaces_an_existing_dest(storage: StorageDriver, root: str) -> None:
    storage.put_content(f"{root}/src", b"new content")
    storage.put_content(f"{root}/dest", b"old content, longer than the new")
    storage.move(f"{root}/src", f"{root}/dest")
    assert storage.get_content(f"{root}/dest") == b"new content"
    assert storage.list(root) == [f"{root}/dest"]


def test_move_of_missing_source_raises_path_not_found(storage: StorageDriver, root: str) -> None:
    storage.put_content(f"{root}/dest", b"kept")
    with pytest.raises(PathNotFoundError):
        storage.move(f"{root}/missing", f"{root}/dest")
    assert storage.get_content(f"{root}/dest") == b"kept"


def test_delete_of_a_file_removes_only_it(storage: StorageDriver, root: str) -> None:
    storage.put_content(f"{root}/a", b"1")
    storage.put_content(f"{root}/ab", b"2")
    storage.delete(f"{root}/a")
    assert storage.list(root) == [f"{root}/ab"]


def test_delete_of_a_directory_is_recursive_and_spares_siblings_sharing_a_prefix(
    storage: StorageDriver, root: str
) -> None:
    make_tree(storage, root)
    storage.delete(f"{root}/a")
    remaining = sorted(info.path for info in storage.walk(root) if not info.is_dir)
    assert remaining == sorted(f"{root}/{name}" for name in ("a.b", "a-c/y/z", "b", "ab/w"))
    with pytest.raises(PathNotFoundError):
        storage.stat(f"{root}/a/x")


def test_delete_of_many_files_removes_them_all(storage: StorageDriver, root: str) -> None:
    paths = [f"{root}/many/{index // 100}/{index}" for index in range(1005)]  # > 1 S3 batch
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda path: storage.put_content(path, b""), paths))
    storage.delete(f"{root}/many")
    with pytest.raises(PathNotFoundError):
        storage.list(f"{root}/many")


def test_delete_of_missing_path_raises_path_not_found(storage: StorageDriver, root: str) -> None:
    storage.put_content(f"{root}/ab", b"x")
    with pytest.raises(PathNotFoundError):
        storage.delete(f"{root}/a")
    assert storage.get_content(f"{root}/ab") == b"x"


def test_walk_is_depth_first_in_key_order(storage: StorageDriver, root: str) -> None:
    make_tree(storage, root)
    walked = [(info.path[len(root) + 1 :], info.is_dir) for info in storage.walk(root)]
    assert walked == [
        ("a-c", True),
        ("a-c/y", True),
        ("a-c/y/z", False),
        ("a.b", False),
        ("a", True),
        ("a/x", False),
        ("ab", True),
        ("ab/w", False),
        ("b", False),
    ]


def test_walk_reports_file_sizes(storage: StorageDriver, root: str) -> None:
    storage.put_content(f"{root}/d/file", b"12345")
    files = [info for info in storage.walk(root) if not info.is_dir]
    assert [(info.path, info.size) for info in files] == [(f"{root}/d/file", 5)]


def test_walk_of_missing_directory_raises_path_not_found(storage: StorageDriver, root: str) -> None:
    with pytest.raises(PathNotFoundError):
        list(storage.walk(f"{root}/missing"))


def test_delete_dir_removes_the_folder_whatever_it_holds(storage: StorageDriver, root: str) -> None:
    storage.put_content(f"{root}/usual/data", b"1")
    storage.put_content(f"{root}/more/data", b"2")
    storage.put_content(f"{root}/more/deeper/file", b"3")
    storage.put_content(f"{root}/file", b"4")
    storage.put_content(f"{root}/usual-sibling", b"kept")
    for name in ("usual", "more", "file"):
        storage.delete_dir(f"{root}/{name}", ("data",))
    assert storage.list(root) == [f"{root}/usual-sibling"]
    with pytest.raises(PathNotFoundError):
        storage.delete_dir(f"{root}/usual", ("data",))
