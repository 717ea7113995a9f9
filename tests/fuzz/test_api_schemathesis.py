"""schemathesis against our own OpenAPI document for /api/v1, as an admin, on a running
registry: no 5xx and every answer matches the documented schema and content type."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from api.app import create_app
from registry.config import parse_settings
from tests.fuzz.counting import count
from tests.support.auth import ADMIN, AuthRegistry

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 10}


def _operations() -> list[Any]:
    with tempfile.TemporaryDirectory() as data_dir:
        document = create_app(parse_settings({"data_dir": data_dir})).openapi()
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    return [op for op in operations if op.path.startswith("/api/v1/")]


OPERATIONS = _operations()


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    registry = AuthRegistry.start(tmp_path_factory.mktemp("schemathesis"))
    token = registry.create_token(ADMIN[0], "schemathesis")["token"]
    yield registry.url, {"Authorization": f"Bearer {token}"}
    registry.stop()


@pytest.mark.parametrize("mode", list(EXAMPLES), ids=lambda m: m.value)
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_operation_survives_fuzzing(
    target: tuple[str, dict[str, str]], operation: Any, mode: GenerationMode
) -> None:
    base_url, headers = target

    @settings(settings.get_profile("fuzz"), max_examples=EXAMPLES[mode])
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: Any) -> None:
        count("api")
        response = case.call(base_url=base_url, headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    fuzz()
