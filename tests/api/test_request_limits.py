"""Request heads and idle connections against a running registry, with raw sockets, for both
HTTP parsers uvicorn may pick: heads over 64 KiB answer 431, heads not complete within
`header_timeout` answer 408, idle connections close, and hostile heads cost no memory."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.processes import RegistryProcess
from testbed.raw_http import RawConnection, parse_status, rss_kib
from tests.api.test_tls import Certificate, self_signed, tls_config

LIMIT = 64 * 1024
TIMEOUT = 2.0  # header_timeout and keepalive_timeout of the registries below
SLACK = 20.0  # a loaded machine may close late, never early


@pytest.fixture(scope="module", params=["httptools", "h11"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryProcess]:
    http = {"parser": request.param, "header_timeout": "2s", "keepalive_timeout": "2s"}
    workdir = tmp_path_factory.mktemp(f"limits-{request.param}")
    registry = RegistryProcess(workdir, {"docker_registry": {"http": http}}).start()
    yield registry
    registry.stop()


def head_of_size(size: int, path: str = "/v2/") -> bytes:
    """A GET whose request line and headers are exactly `size` bytes."""
    start = f"GET {path} HTTP/1.1\r\nHost: registry\r\nX-Pad: ".encode()
    return start + b"a" * (size - len(start) - 4) + b"\r\n\r\n"


def assert_refused_with_431(answer: bytes) -> None:
    assert parse_status(answer) == 431
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"connection: close" in head.lower()
    assert json.loads(body)["errors"][0]["code"] == "HEADER_TOO_LARGE"


def refused_with_431(port: int, request: bytes) -> None:
    with RawConnection(port) as connection:
        connection.send_quietly(request)
        assert_refused_with_431(connection.until_closed()[1])


# --- size -------------------------------------------------------------------------------


def test_a_head_of_exactly_64_kib_is_served(server: RegistryProcess) -> None:
    with RawConnection(server.port) as connection:
        connection.send(head_of_size(LIMIT))
        assert connection.response().status == 200


def test_a_head_one_byte_over_64_kib_answers_431(server: RegistryProcess) -> None:
    refused_with_431(server.port, head_of_size(LIMIT + 1))


def test_a_65_kib_header_answers_431_and_the_connection_is_closed(
    server: RegistryProcess,
) -> None:
    refused_with_431(server.port, head_of_size(65 * 1024))


def test_many_small_headers_count_together(server: RegistryProcess) -> None:
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(8000))
    refused_with_431(server.port, b"GET /v2/ HTTP/1.1\r\nHost: r\r\n" + headers + b"\r\n")


def test_a_long_request_line_counts(server: RegistryProcess) -> None:
    refused_with_431(server.port, b"GET /v2/" + b"a" * LIMIT + b" HTTP/1.1\r\nHost: r\r\n\r\n")


def test_every_request_of_a_keep_alive_connection_is_limited(server: RegistryProcess) -> None:
    with RawConnection(server.port) as connection:
        connection.send(head_of_size(LIMIT))
        assert connection.response().status == 200
        connection.send(head_of_size(LIMIT))  # the count starts again for each request
        assert connection.response().status == 200
        connection.send_quietly(head_of_size(LIMIT + 100))
        assert_refused_with_431(connection.until_closed()[1])


def test_a_body_sent_with_its_head_is_not_counted_as_head(server: RegistryProcess) -> None:
    body = b'{"schemaVersion": 2, "pad": "' + b"x" * (300 * 1024) + b'"}'
    head = (
        b"PUT /v2/limits/body/manifests/latest HTTP/1.1\r\nHost: r\r\n"
        b"Content-Type: application/vnd.oci.image.manifest.v1+json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    with RawConnection(server.port) as connection:
        connection.send(head + body)
        answer = connection.response()
    assert answer.status == 400
    assert json.loads(answer.body)["errors"][0]["code"] == "MANIFEST_INVALID"


def test_pipelined_requests_are_all_answered(server: RegistryProcess) -> None:
    with RawConnection(server.port) as connection:
        connection.send(head_of_size(200) * 3)
        assert [connection.response().status for _ in range(3)] == [200, 200, 200]


def test_10_mib_headers_on_4_connections_answer_431_and_cost_no_memory(
    server: RegistryProcess,
) -> None:
    assert server.proc is not None
    before = rss_kib(server.proc.pid)
    answers: list[bytes] = []
    hostile = b"GET /v2/ HTTP/1.1\r\nHost: r\r\nX-Big: " + b"a" * (10 << 20) + b"\r\n\r\n"

    def one() -> None:
        with RawConnection(server.port) as connection:
            connection.send_quietly(hostile)
            answers.append(connection.until_closed()[1])

    threads = [threading.Thread(target=one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    after = rss_kib(server.proc.pid)
    for answer in answers:
        assert_refused_with_431(answer)
    assert len(answers) == 4
    assert after - before < 8 * 1024, f"RSS grew from {before} to {after} KiB"


# --- time -------------------------------------------------------------------------------


def test_half_a_request_line_answers_408_after_the_header_timeout(
    server: RegistryProcess,
) -> None:
    with RawConnection(server.port) as connection:
        connection.send(b"GET /v2/ HT")
        waited, answer = connection.until_closed()
    assert TIMEOUT * 0.9 <= waited < TIMEOUT + SLACK
    assert parse_status(answer) == 408
    body = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert body["errors"][0]["code"] == "REQUEST_TIMEOUT"


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(
    server: RegistryProcess,
) -> None:
    with RawConnection(server.port) as connection:
        waited, answer = connection.until_closed()
    assert TIMEOUT * 0.9 <= waited < TIMEOUT + SLACK
    assert answer == b""  # nothing was asked, so nothing is answered


def test_stalled_connections_give_their_file_descriptors_back(server: RegistryProcess) -> None:
    assert server.proc is not None
    descriptors = Path(f"/proc/{server.proc.pid}/fd")
    before = len(list(descriptors.iterdir()))
    stalled = [RawConnection(server.port) for _ in range(20)]
    for number, connection in enumerate(stalled):
        connection.send(b"GET /v2/ HTTP/1.1\r\n" if number % 2 else b"")
    deadline = time.monotonic() + 10
    while len(list(descriptors.iterdir())) < before + 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(list(descriptors.iterdir())) >= before + 20
    for connection in stalled:
        connection.until_closed()
        connection.sock.close()
    deadline = time.monotonic() + SLACK
    while len(list(descriptors.iterdir())) > before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(list(descriptors.iterdir())) <= before


def test_a_trickled_head_is_cut_at_the_header_timeout_in_total(server: RegistryProcess) -> None:
    started = time.monotonic()
    with RawConnection(server.port) as connection:
        for byte in b"GET /v2/ HTTP/1.1\r\nHost: r\r\nX-Slow: " + b"a" * 200:
            time.sleep(0.2)  # each byte is well within the timeout; the whole head is not
            if not connection.send_quietly(bytes([byte])):
                break
            if b"\r\n\r\n" in connection.buffer or time.monotonic() - started > 60:
                break
        _, answer = connection.until_closed()
    assert TIMEOUT * 0.9 <= time.monotonic() - started < TIMEOUT + SLACK
    assert parse_status(answer) == 408


def test_an_idle_keep_alive_connection_is_closed_after_its_timeout(
    server: RegistryProcess,
) -> None:
    with RawConnection(server.port) as connection:
        connection.send(head_of_size(100))
        assert connection.response().status == 200
        waited, answer = connection.until_closed()
    assert TIMEOUT * 0.9 <= waited < TIMEOUT + SLACK
    assert answer == b""


def test_a_keep_alive_connection_used_within_its_timeout_stays_open(
    server: RegistryProcess,
) -> None:
    with RawConnection(server.port) as connection:
        for _ in range(3):
            connection.send(head_of_size(100))
            assert connection.response().status == 200
            time.sleep(TIMEOUT / 4)


def test_a_partial_head_pipelined_behind_a_request_does_not_hold_the_connection(
    server: RegistryProcess,
) -> None:
    # Sent in the same packet as a whole request, its bytes are not timed as a head of their
    # own; the keep-alive timeout that follows the answer closes the connection instead.
    with RawConnection(server.port) as connection:
        connection.send(head_of_size(100) + b"GET /v2/ HTTP/1.1\r\n")
        assert connection.response().status == 200
        waited, answer = connection.until_closed()
    assert TIMEOUT * 0.9 <= waited < TIMEOUT + SLACK
    assert answer == b"" or parse_status(answer) == 408


# --- over TLS -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RegistryProcess, Certificate]]:
    certificate = self_signed(tmp_path_factory.mktemp("limits-cert"))
    config = tls_config(certificate)
    config["docker_registry"]["http"]["header_timeout"] = "2s"
    registry = RegistryProcess(tmp_path_factory.mktemp("limits-tls"), config).start()
    yield registry, certificate
    registry.stop()


def test_over_tls_a_10_mib_header_answers_431(
    tls_server: tuple[RegistryProcess, Certificate],
) -> None:
    registry, certificate = tls_server
    with RawConnection(registry.port, tls=certificate.client_context()) as connection:
        connection.send_quietly(head_of_size(10 << 20))
        assert_refused_with_431(connection.until_closed()[1])


def test_over_tls_half_a_request_line_answers_408_after_the_header_timeout(
    tls_server: tuple[RegistryProcess, Certificate],
) -> None:
    registry, certificate = tls_server
    with RawConnection(registry.port, tls=certificate.client_context()) as connection:
        connection.send(b"GET /v2/ HT")
        waited, answer = connection.until_closed()
    assert TIMEOUT * 0.9 <= waited < TIMEOUT + SLACK
    assert parse_status(answer) == 408
