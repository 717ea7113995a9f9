"""The cloud drivers' requests sessions keep honouring HTTP(S)_PROXY, NO_PROXY and the CA bundle
while reading them once per host."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from registry.storage.sessions import EnvironmentOnce

URLS = [
    "https://storage.example.com/b/o?alt=media",
    "http://storage.example.com:8080/x",
    "https://inside.corp/x",
    "http://127.0.0.1:9000/y",
]


class _Recorder(BaseHTTPRequestHandler):
    """Answers every GET with the target it was asked for, as a forward proxy sees it."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_requests_go_through_the_proxy_from_the_environment(
    recorder: str, clean_environment: pytest.MonkeyPatch
) -> None:
    clean_environment.setenv("HTTP_PROXY", recorder)
    with EnvironmentOnce() as session:
        for _ in range(2):  # the second request uses what the first one read
            answer = session.get("http://storage.invalid/bucket/key", timeout=5)
            assert answer.text == "http://storage.invalid/bucket/key"


def test_no_proxy_hosts_are_reached_directly(
    recorder: str, clean_environment: pytest.MonkeyPatch
) -> None:
    clean_environment.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    clean_environment.setenv("NO_PROXY", "127.0.0.1")
    with EnvironmentOnce() as session:
        assert session.get(f"{recorder}/direct", timeout=5).text == "/direct"


@pytest.mark.parametrize(
    "environment",
    [
        {},
        {"HTTPS_PROXY": "http://proxy:3128", "HTTP_PROXY": "http://proxy:3129"},
        {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "inside.corp,127.0.0.1"},
        {"ALL_PROXY": "socks5://proxy:1080", "NO_PROXY": "*"},
        {"REQUESTS_CA_BUNDLE": "/etc/ssl/corp.pem"},
        {"CURL_CA_BUNDLE": "/etc/ssl/curl.pem"},
    ],
)
def test_settings_match_what_requests_reads_itself(
    environment: dict[str, str], clean_environment: pytest.MonkeyPatch
) -> None:
    for name, value in environment.items():
        clean_environment.setenv(name, value)
    plain, cached = requests.Session(), EnvironmentOnce()
    for url in URLS:
        for verify in (None, True, False, "/own.pem"):
            for twice in range(2):
                expected = plain.merge_environment_settings(url, {}, None, verify, None)
                got = cached.merge_environment_settings(url, {}, None, verify, None)
                assert got == expected, (url, verify, twice)


def test_a_request_level_no_proxy_is_honoured(clean_environment: pytest.MonkeyPatch) -> None:
    clean_environment.setenv("HTTPS_PROXY", "http://proxy:3128")
    session = EnvironmentOnce()
    url = URLS[0]
    assert session.merge_environment_settings(url, {}, None, None, None)["proxies"]
    bypass = {"no_proxy": "storage.example.com"}
    assert (
        "https" not in session.merge_environment_settings(url, bypass, None, None, None)["proxies"]
    )


def test_the_environment_is_read_when_the_session_is_made(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    clean_environment.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/first.pem")
    session = EnvironmentOnce()
    clean_environment.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/second.pem")
    assert session.merge_environment_settings(URLS[0], {}, None, None, None)["verify"] == (
        "/etc/ssl/first.pem"
    )
    assert EnvironmentOnce().merge_environment_settings(URLS[0], {}, None, None, None)[
        "verify"
    ] == ("/etc/ssl/second.pem")


def test_without_trust_env_the_environment_is_ignored(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    clean_environment.setenv("HTTPS_PROXY", "http://proxy:3128")
    session = EnvironmentOnce()
    session.trust_env = False
    assert session.merge_environment_settings(URLS[0], {}, None, None, None)["proxies"] == {}
