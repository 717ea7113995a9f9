"""api/lean_imports.py and the parser-on-demand import of api/protocol: what an HTTP worker
goes without, and that it changes nothing it uses. Each check runs in a fresh interpreter
(imports are process-wide)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(code: str) -> str:
    """What `code` prints, run in a fresh interpreter; it must succeed."""
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_kombu_sends_json_without_yaml_nor_billiard() -> None:
    run(
        """
import sys
from api.lean_imports import install
install()
import kombu.serialization, kombu.utils.compat, multiprocessing.util
assert "yaml" not in sys.modules and "billiard" not in sys.modules
assert "json" in kombu.serialization.registry._encoders
assert "yaml" not in kombu.serialization.registry._encoders
# billiard.util re-exports multiprocessing's hook: Kombu's fallback is the same function
assert kombu.utils.compat.register_after_fork is multiprocessing.util.register_after_fork
import yaml, billiard.util  # still importable once those two bodies ran
assert billiard.util.register_after_fork is multiprocessing.util.register_after_fork
"""
    )


def test_a_module_already_imported_is_used() -> None:
    run(
        """
import yaml
from api.lean_imports import install
install()
import kombu.serialization
assert "yaml" in kombu.serialization.registry._encoders
"""
    )


def test_the_refusal_holds_in_the_importing_thread_only() -> None:
    run(
        """
import sys, threading
from api.lean_imports import _Without
finder = _Without()
finder.refused[threading.get_ident() + 1] = ("yaml",)  # another thread's import
assert finder.find_spec("yaml", None) is None
finder.refused[threading.get_ident()] = ("yaml",)
try:
    finder.find_spec("yaml", None)
except ModuleNotFoundError as exc:
    assert exc.name == "yaml"
else:
    raise AssertionError("not refused")
"""
    )


def test_only_the_parser_picked_is_imported() -> None:
    run(
        """
import sys
from api.protocol.guard import HeadLimits
from api.protocol.implementations import protocol_factory
factory = protocol_factory("httptools", HeadLimits(5.0))
assert factory.args[0].__name__ == "GuardedHttpTools"
assert "h11" not in sys.modules and "uvicorn.protocols.http.h11_impl" not in sys.modules
factory = protocol_factory("h11", HeadLimits(5.0))
assert factory.args[0].__name__ == "GuardedH11"
"""
    )


OPENAPI_DOCUMENT = """
import json, tempfile
from api.app import create_app
from registry.config import parse_settings
app = create_app(parse_settings({"data_dir": tempfile.mkdtemp()}))
print(json.dumps(app.openapi(), sort_keys=True))
"""


def test_fastapis_models_are_built_on_first_use_and_write_the_same_document() -> None:
    lean = run(
        """
from api.lean_imports import install
install()
from fastapi.openapi import models
from pydantic._internal import _config
assert not models.OpenAPI.__pydantic_complete__ and not models.APIKey.__pydantic_complete__
assert _config.config_defaults["defer_build"] is False  # for every model defined later
from pydantic import BaseModel
class Later(BaseModel):
    x: int
assert Later.__pydantic_complete__
"""
        + OPENAPI_DOCUMENT
        + """
assert models.OpenAPI.__pydantic_complete__
"""
    )
    assert lean == run(OPENAPI_DOCUMENT)
