"""A port in use is named with the setting that moves it: `hth-ctl up` checks every port
before it starts anything, `hth-ctl run registry|flower` before they bind. hth-ctl runs in
this process through `cli.main.main`, the console script's entry point (a subprocess would
add seconds of imports per test)."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from registry.config import parse_settings
from registry.ports import bind_problem, registry_listener, worker_metrics_listener
from testbed.processes import free_port

SETTING_NAMES = {
    "registry": ("registry HTTP", "docker_registry.http.addr"),
    "flower": ("Flower", "flower.port"),
    "metrics": ("worker metrics", "queue.worker_metrics_port"),
}


@pytest.fixture()
def taken() -> Iterator[int]:
    """A port another program listens on (127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _config(tmp_path: Path, ports: dict[str, int]) -> Path:
    path = tmp_path / "hth.json"
    document: dict[str, Any] = {
        "data_dir": str(tmp_path / "var"),
        "docker_registry": {"http": {"addr": f"127.0.0.1:{ports['registry']}"}},
        "flower": {"port": ports["flower"]},
        "queue": {"worker_metrics_port": ports["metrics"]},
    }
    path.write_text(json.dumps(document))
    return path


def _ports(**taken: int) -> dict[str, int]:
    return {name: taken.get(name) or free_port() for name in SETTING_NAMES}


def _hth_ctl(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str]:
    """hth-ctl in this process: (exit code, stderr)."""
    monkeypatch.setattr(sys, "argv", ["hth-ctl", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    code = exit_info.value.code
    return code if isinstance(code, int) else 1, capsys.readouterr().err


def _nothing_may_start(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> list[str]:
        raise AssertionError("hth-ctl up went on to start the platform")

    monkeypatch.setattr("cli.processes._platform_components", refuse)


@pytest.mark.parametrize("component", list(SETTING_NAMES))
def test_up_names_the_taken_port_and_its_setting_and_starts_nothing(
    component: str,
    taken: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = _config(tmp_path, _ports(**{component: taken}))
    _nothing_may_start(monkeypatch)
    code, err = _hth_ctl(monkeypatch, capsys, "--config", str(config), "up")

    name, setting = SETTING_NAMES[component]
    assert code == 1
    assert err == (
        f"hth-ctl: error: port {taken} ({name}, setting {setting} in {config}) "
        "is already in use on 127.0.0.1\n"
    )
    assert not (tmp_path / "var").exists()  # not even the database was made


def test_up_refuses_one_port_set_for_two_components(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    config = _config(tmp_path, _ports(registry=port, flower=port))
    _nothing_may_start(monkeypatch)
    code, err = _hth_ctl(monkeypatch, capsys, "--config", str(config), "up")

    assert code == 1
    assert err == (
        f"hth-ctl: error: port {port} is set for both registry HTTP (docker_registry.http.addr) "
        f"and Flower (flower.port) in {config}; change one of them\n"
    )


@pytest.mark.parametrize("component", ["registry", "flower"])
def test_run_names_the_taken_port_and_its_setting(
    component: str,
    taken: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = _config(tmp_path, _ports(**{component: taken}))
    code, err = _hth_ctl(monkeypatch, capsys, "--config", str(config), "run", component)

    name, setting = SETTING_NAMES[component]
    assert (code, err) == (
        1,
        f"hth-ctl: error: port {taken} ({name}, setting {setting} in {config}) "
        "is already in use on 127.0.0.1\n",
    )


def test_the_worker_metrics_warning_names_its_setting(taken: int) -> None:
    settings = parse_settings({"queue": {"worker_metrics_port": taken}})
    listener = worker_metrics_listener(settings)

    assert listener is not None
    assert bind_problem(listener) == (
        f"port {taken} (worker metrics, setting queue.worker_metrics_port in hth.json) "
        "is already in use on 127.0.0.1"
    )


def test_an_address_not_on_this_machine_is_named_with_its_setting() -> None:
    settings = parse_settings({"docker_registry": {"http": {"addr": "192.0.2.1:5000"}}})

    assert bind_problem(registry_listener(settings)) == (
        "cannot listen on 192.0.2.1:5000 (registry HTTP, setting docker_registry.http.addr "
        "in hth.json): Cannot assign requested address"
    )
