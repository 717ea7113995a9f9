"""hth.json: discovery order, typed validation with key paths, redaction."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from registry.config import (
    ConfigError,
    discover_config_path,
    parse_settings,
    read_settings_file,
    redacted,
)

S3 = {
    "storage_driver": "s3",
    "storage_settings": {
        "accesskey": "AK",
        "secretkey": "very-secret",
        "bucket": "images",
        "region": "us-east-1",
    },
}


def test_embedded_default_is_filesystem_under_var() -> None:
    settings = parse_settings({})
    assert settings.docker_registry.storage_driver == "filesystem"
    root = settings.docker_registry.storage_settings["rootdirectory"]
    assert root == str(Path("var") / "storage" / "docker_registry")


def test_teamhub_document_is_accepted_as_written() -> None:
    raw = {
        "docker_registry": {
            "storage_driver": "filesystem",
            "storage_settings": {"rootdirectory": "/var/opt/hth/shared/storage/docker_registry/"},
        }
    }
    assert parse_settings(raw).driver_settings().model_dump() == {
        "rootdirectory": "/var/opt/hth/shared/storage/docker_registry/"
    }


def test_missing_driver_key_names_its_path() -> None:
    raw = {"docker_registry": {**S3, "storage_settings": {"accesskey": "AK", "region": "x"}}}
    with pytest.raises(ConfigError) as err:
        parse_settings(raw)
    assert "docker_registry.storage_settings.bucket: field required" in str(err.value)
    assert "docker_registry.storage_settings.secretkey: field required" in str(err.value)


def test_unknown_key_is_an_error_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"docker_registry\.http\.adress: unknown key"):
        parse_settings({"docker_registry": {"http": {"adress": "x"}}})


def test_wrong_type_names_the_path() -> None:
    with pytest.raises(ConfigError, match=r"docker_registry\.gc\.delete_untagged"):
        parse_settings({"docker_registry": {"gc": {"delete_untagged": "sometimes"}}})


def test_unknown_driver_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown storage driver 'ftp'.*filesystem"):
        parse_settings({"docker_registry": {"storage_driver": "ftp"}})


def test_trusted_proxies_are_addresses_or_networks_and_none_by_default() -> None:
    assert parse_settings({}).docker_registry.http.trusted_proxies == []
    raw = {"docker_registry": {"http": {"trusted_proxies": ["10.0.0.5", "172.30.0.0/16", "::1"]}}}
    proxies = parse_settings(raw).docker_registry.http.trusted_proxies

    assert [str(network) for network in proxies] == ["10.0.0.5/32", "172.30.0.0/16", "::1/128"]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (["10.0.0.5/8"], "'10.0.0.5/8' is not an IP address or CIDR network (10.0.0.5/8 has host"),
        (["proxy.local"], "'proxy.local' is not an IP address or CIDR network"),
        ([5], "5 is not a string"),
        ("10.0.0.5", "Input should be a valid list"),
    ],
)
def test_a_trusted_proxy_that_is_no_address_names_the_key(value: object, says: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings({"docker_registry": {"http": {"trusted_proxies": value}}})
    assert str(err.value).startswith("docker_registry.http.trusted_proxies: ")
    assert says in str(err.value)


def test_refresh_tokens_per_client_is_at_least_one() -> None:
    assert parse_settings({}).auth.refresh_tokens_per_client == 10
    with pytest.raises(ConfigError, match=r"auth\.refresh_tokens_per_client"):
        parse_settings({"auth": {"refresh_tokens_per_client": 0}})


def test_bad_duration_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"docker_registry\.gc\.grace_period"):
        parse_settings({"docker_registry": {"gc": {"grace_period": "one hour"}}})


def test_durations_take_integer_seconds_as_well_as_text() -> None:
    settings = parse_settings(
        {
            "docker_registry": {"gc": {"grace_period": 0}, "upload_purging": {"age": 86400}},
            "auth": {"token_ttl": 300},
            "cluster": {"instance_ttl": 12.5},
        }
    )
    registry, auth, cluster = settings.docker_registry, settings.auth, settings.cluster
    assert (registry.gc.grace_period, registry.upload_purging.age) == (timedelta(0), timedelta(1))
    assert (auth.token_ttl, cluster.instance_ttl) == (timedelta(minutes=5), timedelta(seconds=12.5))
    assert registry.http.header_timeout == timedelta(seconds=30)  # the default, parsed too
    shown = redacted(settings)  # as show-config prints them: text in the largest whole unit
    assert (shown["docker_registry"]["gc"]["grace_period"], shown["auth"]["token_ttl"]) == (
        "0s",
        "5m",
    )
    assert shown["docker_registry"]["upload_purging"]["age"] == "24h"
    assert shown["cluster"]["instance_ttl"] == "12.5s"


def test_a_negative_duration_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^queue\.heartbeat: a duration must not be negative"):
        parse_settings({"queue": {"heartbeat": -1}})


def test_integer_seconds_in_storage_settings() -> None:
    s3 = {**S3, "storage_settings": {**S3["storage_settings"], "redirect_expiry": 600}}
    settings = parse_settings({"docker_registry": s3})
    expiry = settings.driver_settings().redirect_expiry  # type: ignore[attr-defined]
    assert expiry == timedelta(minutes=10)
    assert redacted(settings)["docker_registry"]["storage_settings"]["redirect_expiry"] == "10m"


@pytest.mark.parametrize("key", ["header_timeout", "keepalive_timeout"])
@pytest.mark.parametrize("value", ["0", "0s", "soon", "-5s", 0])
def test_connection_timeouts_must_be_positive_durations(key: str, value: str | int) -> None:
    with pytest.raises(ConfigError, match=rf"docker_registry\.http\.{key}"):
        parse_settings({"docker_registry": {"http": {key: value}}})


def test_connection_timeouts_default_to_30_seconds_and_take_durations() -> None:
    http = parse_settings({}).docker_registry.http
    assert (http.header_timeout, http.keepalive_timeout) == (timedelta(seconds=30),) * 2
    http = parse_settings({"docker_registry": {"http": {"header_timeout": "1m30s"}}})
    assert http.docker_registry.http.header_timeout.total_seconds() == 90.0


def test_the_http_parser_is_auto_httptools_or_h11() -> None:
    assert parse_settings({}).docker_registry.http.parser == "auto"
    with pytest.raises(ConfigError, match=r"docker_registry\.http\.parser"):
        parse_settings({"docker_registry": {"http": {"parser": "zttp"}}})


def test_invalid_json_reports_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "hth.json"
    path.write_text('{"docker_registry": {\n  "storage_driver": }\n}')
    with pytest.raises(ConfigError, match=r"invalid JSON at line 2"):
        read_settings_file(path)


def test_top_level_must_be_an_object() -> None:
    with pytest.raises(ConfigError, match="expected a JSON object"):
        parse_settings([1, 2])


def test_secrets_are_redacted() -> None:
    shown = json.dumps(redacted(parse_settings({"docker_registry": S3})))
    assert "very-secret" not in shown
    assert '"secretkey": "***"' in shown
    assert '"accesskey": "AK"' in shown


def test_discovery_prefers_explicit_then_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTH_CONFIG", str(tmp_path / "env.json"))
    assert discover_config_path(tmp_path / "cli.json") == tmp_path / "cli.json"
    assert discover_config_path(None) == tmp_path / "env.json"
    monkeypatch.delenv("HTH_CONFIG")
    assert discover_config_path(None) in (None, Path("/var/opt/hth/shared/hth.json"))
