"""docker-compose.yml checked without Docker: every service runs a real `hth-ctl` command
from the one image, every file it mounts exists, health checks and depends_on conditions
hold together, volumes and ports are consistent, and the nginx config passes `nginx -t`."""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from cli.main import cli
from registry.config import read_settings_file
from testbed.processes import REPO_ROOT
from tests.deploy.nginx_conf import Nginx

COMPOSE = REPO_ROOT / "docker-compose.yml"
HTH_SERVICES = {"registry1", "registry2", "worker", "beat", "flower"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def test_compose_has_the_cluster_topology(compose: dict[str, Any]) -> None:
    assert set(services(compose)) == HTH_SERVICES | {"redis", "postgres", "nginx"}
    redis = services(compose)["redis"]["command"]
    assert redis[redis.index("--appendonly") + 1] == "yes"


def test_every_hth_service_runs_a_real_hth_ctl_command_from_the_one_image(
    compose: dict[str, Any],
) -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["hth-ctl"]' in dockerfile
    for name in HTH_SERVICES:
        service = services(compose)[name]
        assert service["build"] == "." and service["image"] == "hth-registry:latest", name
        with click.Context(cli) as ctx:
            command_name, command, rest = cli.resolve_command(ctx, list(service["command"]))
            assert command is not None, name
            command.parse_args(click.Context(command, info_name=command_name), rest)
    commands = {name: services(compose)[name]["command"][-1] for name in HTH_SERVICES}
    assert commands == {
        "registry1": "registry",
        "registry2": "registry",
        "worker": "worker",
        "beat": "beat",
        "flower": "flower",
    }


def test_a_command_the_cli_does_not_know_is_refused(compose: dict[str, Any]) -> None:
    with click.Context(cli) as ctx, pytest.raises(click.UsageError):
        _, command, rest = cli.resolve_command(ctx, ["run", "webserver"])
        assert command is not None
        command.parse_args(click.Context(command), rest)


def test_every_mounted_file_exists_in_the_repository(compose: dict[str, Any]) -> None:
    mounted = [
        volume.split(":")[0]
        for service in services(compose).values()
        for volume in service.get("volumes", [])
        if volume.startswith("./")
    ]
    assert "./deploy/hth.json" in mounted and "./deploy/nginx/nginx.conf" in mounted
    for source in mounted:
        assert (REPO_ROOT / source).exists(), source
    assert (REPO_ROOT / "deploy" / "tls" / "README.md").exists()  # how to put the cert there


def test_the_mounted_hth_json_is_valid_and_fits_the_cluster(compose: dict[str, Any]) -> None:
    settings = read_settings_file(REPO_ROOT / "deploy" / "hth.json")
    http = settings.docker_registry.http
    assert http.addr == "0.0.0.0:5000" and http.allow_insecure  # TLS ends at nginx
    assert settings.queue.broker_url == "redis://redis:6379/0"
    assert settings.database.url and "@postgres:5432/" in settings.database.url
    root = settings.driver_settings().model_dump()["rootdirectory"]
    for name in HTH_SERVICES - {"flower"}:
        mounts = dict(v.split(":")[:2][::-1] for v in services(compose)[name]["volumes"])
        storage = mounts["/var/opt/hth/shared/storage"]
        assert storage == "registry-storage" and root.startswith("/var/opt/hth/shared/storage/")
        assert mounts["/var/opt/hth/backups"] == "backups"
        assert mounts["/var/opt/hth/shared/hth.json"] == "./deploy/hth.json"
    assert settings.docker_registry.backups.directory == "/var/opt/hth/backups"


def test_named_volumes_are_declared_and_used(compose: dict[str, Any]) -> None:
    used = {
        volume.split(":")[0]
        for service in services(compose).values()
        for volume in service.get("volumes", [])
        if not volume.startswith(("./", "/"))
    }
    assert used == set(compose["volumes"])
    assert {"registry-storage", "database", "backups"} <= used


def test_health_checks_and_depends_on_conditions(compose: dict[str, Any]) -> None:
    all_services = services(compose)
    for name in ("registry1", "registry2"):
        check = " ".join(all_services[name]["healthcheck"]["test"])
        assert "http://127.0.0.1:5000/readyz" in check
        assert all_services[name]["depends_on"] == {
            "redis": {"condition": "service_healthy"},
            "postgres": {"condition": "service_healthy"},
        }
    for name, service in all_services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in all_services, f"{name} depends on unknown {dependency}"
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in all_services[dependency], (name, dependency)
    assert all_services["nginx"]["depends_on"]["registry1"]["condition"] == "service_healthy"


def test_ports_are_published_by_nginx_only_and_match_its_config(compose: dict[str, Any]) -> None:
    published = {
        name: service["ports"] for name, service in services(compose).items() if "ports" in service
    }
    assert published == {"nginx": ["443:443", "5556:5556"]}
    conf = (REPO_ROOT / "deploy" / "nginx" / "nginx.conf").read_text()
    assert re.findall(r"listen (\d+) ssl;", conf) == ["443", "5556"]
    assert set(re.findall(r"server (registry\d):5000", conf)) == {"registry1", "registry2"}
    flower = services(compose)["flower"]
    assert flower["network_mode"] == "service:nginx"  # Flower binds 127.0.0.1 only
    port = json.loads((REPO_ROOT / "deploy" / "hth.json").read_text())["flower"]["port"]
    assert f"proxy_pass http://127.0.0.1:{port};" in conf


def test_worker_metrics_port_is_exposed_and_scraped(compose: dict[str, Any]) -> None:
    port = read_settings_file(REPO_ROOT / "deploy" / "hth.json").queue.worker_metrics_port
    assert port and services(compose)["worker"]["expose"] == [str(port)]
    scrape = yaml.safe_load((REPO_ROOT / "deploy" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    assert jobs["hth-worker"]["dns_sd_configs"] == [
        {"names": ["worker"], "type": "A", "port": port}
    ]
    registries = jobs["hth-registry"]["static_configs"][0]["targets"]
    assert registries == ["registry1:5000", "registry2:5000"]


def test_the_registries_trust_forwarded_addresses_from_nginx_alone(
    compose: dict[str, Any],
) -> None:
    ipam = compose["networks"]["default"]["ipam"]["config"][0]
    subnet, dynamic = ipaddress.ip_network(ipam["subnet"]), ipaddress.ip_network(ipam["ip_range"])
    fixed = ipaddress.ip_address(services(compose)["nginx"]["networks"]["default"]["ipv4_address"])
    trusted = read_settings_file(REPO_ROOT / "deploy" / "hth.json").docker_registry.http

    assert trusted.trusted_proxies == [ipaddress.ip_network(fixed)]
    assert fixed in subnet and dynamic.subnet_of(subnet)
    assert fixed not in dynamic  # no other container can be given nginx's address
    for name, service in services(compose).items():  # every other one is on that network
        assert "networks" not in service or name == "nginx", name
    conf = (REPO_ROOT / "deploy" / "nginx" / "nginx.conf").read_text()
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in conf


def test_nginx_config_passes_nginx_t(tmp_path: Path) -> None:
    nginx = Nginx(tmp_path, upstreams=[5001, 5002])
    nginx.write()

    done = nginx.test_config()

    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr
