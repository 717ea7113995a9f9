"""HTTPS with docker_registry.http.tls, and the refusal to serve plain HTTP beyond loopback."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from testbed.processes import REPO_ROOT, RegistryProcess, free_port
from tests.support.clients import Skopeo
from tests.support.images import OciLayout


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def client_context(self, **versions: ssl.TLSVersion) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.cert))
        for attribute, version in versions.items():
            setattr(context, attribute, version)
        return context


def self_signed(directory: Path) -> Certificate:
    """An ECDSA certificate for 127.0.0.1 and localhost, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hth-registry test")])
    now = datetime.datetime.now(datetime.UTC)
    san = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    paths = Certificate(directory / "cert.pem", directory / "key.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    paths.key.write_bytes(key_pem)
    return paths


def tls_config(certificate: Certificate, **extra: Any) -> dict[str, Any]:
    tls = {"certificate": str(certificate.cert), "key": str(certificate.key), **extra}
    return {"docker_registry": {"http": {"tls": tls}}}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_server(
    tmp_path_factory: pytest.TempPathFactory, certificate: Certificate
) -> Iterator[RegistryProcess]:
    server = RegistryProcess(tmp_path_factory.mktemp("tls-registry"), tls_config(certificate))
    server.start()
    yield server
    server.stop()


def run_registry(workdir: Path, config: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """Run `hth-ctl run registry` expecting it to exit on its own (a refused configuration)."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_file = workdir / "hth.json"
    storage = {"storage_settings": {"rootdirectory": str(workdir / "storage")}}
    config["docker_registry"] = {**storage, **config.get("docker_registry", {})}
    config_file.write_text(json.dumps({"data_dir": str(workdir / "var"), **config}))
    args = [sys.executable, "-m", "cli.main", "--config", str(config_file), "run", "registry"]
    return subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)


def test_https_serves_the_api_with_the_configured_certificate(
    tls_server: RegistryProcess, certificate: Certificate
) -> None:
    assert tls_server.url.startswith("https://")

    response = httpx.get(f"{tls_server.url}/v2/", verify=certificate.client_context())

    assert response.status_code == 200
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_https_port_does_not_answer_plain_http(tls_server: RegistryProcess) -> None:
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://{tls_server.host}/v2/", timeout=10)


def test_tls13_minimum_refuses_a_tls12_client(tmp_path: Path, certificate: Certificate) -> None:
    config = tls_config(certificate, minimum_version="tls1.3")
    server = RegistryProcess(tmp_path, config).start()
    try:
        tls12_only = certificate.client_context(maximum_version=ssl.TLSVersion.TLSv1_2)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.url}/v2/", verify=tls12_only, timeout=10)
        response = httpx.get(f"{server.url}/v2/", verify=certificate.client_context())
        assert response.status_code == 200
    finally:
        server.stop()


def test_plain_http_beyond_loopback_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    addr = f"0.0.0.0:{free_port()}"

    done = run_registry(tmp_path, {"docker_registry": {"http": {"addr": addr}}})

    assert done.returncode == 2, done.stderr
    assert "docker_registry.http.addr" in done.stderr
    assert "not a loopback address" in done.stderr
    assert "allow_insecure" in done.stderr
    assert "Traceback" not in done.stderr


def test_allow_insecure_serves_plain_http_beyond_loopback(tmp_path: Path) -> None:
    port = free_port()
    http = {"addr": f"0.0.0.0:{port}", "allow_insecure": True}
    config = {"docker_registry": {"http": http}, "auth": {"enabled": False}}  # transport only
    server = RegistryProcess(tmp_path, config, port=port).start()
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=10)
        assert response.status_code == 200
    finally:
        server.stop()


def test_tls_serves_beyond_loopback(tmp_path: Path, certificate: Certificate) -> None:
    port = free_port()
    config = tls_config(certificate)
    config["docker_registry"]["http"]["addr"] = f"0.0.0.0:{port}"
    config["auth"] = {"enabled": False}  # transport only (auth is on beyond loopback)
    server = RegistryProcess(tmp_path, config, port=port).start()
    try:
        response = httpx.get(f"https://127.0.0.1:{port}/v2/", verify=certificate.client_context())
        assert response.status_code == 200
    finally:
        server.stop()


def test_certificate_without_key_is_refused(tmp_path: Path, certificate: Certificate) -> None:
    tls = {"certificate": str(certificate.cert)}

    done = run_registry(tmp_path, {"docker_registry": {"http": {"tls": tls}}})

    assert done.returncode == 2, done.stderr
    assert "docker_registry.http.tls: certificate and key must be set together" in done.stderr


def test_missing_certificate_file_is_refused(tmp_path: Path, certificate: Certificate) -> None:
    tls = {"certificate": str(tmp_path / "absent.pem"), "key": str(certificate.key)}

    done = run_registry(tmp_path, {"docker_registry": {"http": {"tls": tls}}})

    assert done.returncode == 2, done.stderr
    assert "docker_registry.http.tls.certificate: file not found" in done.stderr


@pytest.fixture()
def small_image(tmp_path: Path) -> str:
    layout = OciLayout(tmp_path / "layout")
    layout.write_image("v1", [4_000, 200_000], seed=7)
    return f"oci:{tmp_path / 'layout'}:v1"


@pytest.mark.e2e
def test_skopeo_pushes_over_tls_verifying_with_a_cert_dir(
    tls_server: RegistryProcess, certificate: Certificate, small_image: str, tmp_path: Path
) -> None:
    cert_dir = tmp_path / "certs.d"
    cert_dir.mkdir()
    (cert_dir / "ca.crt").write_bytes(certificate.cert.read_bytes())
    skopeo = Skopeo(tmp_path / "skopeo", cert_dir=cert_dir)
    ref = f"docker://{tls_server.host}/tls/verified:1"

    skopeo.copy(small_image, ref)

    pushed = skopeo.inspect_digest(ref)
    skopeo.copy(ref, f"oci:{tmp_path / 'pulled'}:v1")
    index = json.loads((tmp_path / "pulled" / "index.json").read_text())
    assert index["manifests"][0]["digest"] == pushed


@pytest.mark.e2e
def test_skopeo_pushes_over_tls_without_verification(
    tls_server: RegistryProcess, small_image: str, tmp_path: Path
) -> None:
    skopeo = Skopeo(tmp_path / "skopeo")
    ref = f"docker://{tls_server.host}/tls/unverified:1"

    skopeo.copy(small_image, ref)

    assert skopeo.list_tags(f"docker://{tls_server.host}/tls/unverified") == ["1"]
