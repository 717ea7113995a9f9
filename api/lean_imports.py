"""What an HTTP worker process (cli/http_worker.py) skips importing: uvicorn's command line
and the pydantic v1 compatibility layer, ~3 MiB of RSS it never uses (docs/benchmarks.md,
"Footprint"). Call `install()` first thing, before anything imports uvicorn or FastAPI.

- uvicorn's package `__init__` imports `uvicorn.main`: its CLI (click), the reloader
  (watchfiles) and the multiprocess supervisor (multiprocessing). A worker needs only
  `uvicorn.config`, `uvicorn.server`, the protocols and the lifespan: the package is
  registered bare (its path, no `__init__` run), with the two names its own modules take
  from it (`from uvicorn import Config`).
- FastAPI asks, for every response model, whether it is a pydantic v1 model, importing
  `pydantic.v1` (1.5 MiB) to find out; none is: marked absent, the check answers no.
"""

from __future__ import annotations

import importlib.util
import sys
import types


def install() -> None:
    """Register the bare uvicorn package and the absent pydantic.v1, unless already imported."""
    if "uvicorn" not in sys.modules:
        spec = importlib.util.find_spec("uvicorn")
        if spec is not None and spec.submodule_search_locations is not None:
            package = types.ModuleType("uvicorn")
            package.__path__ = list(spec.submodule_search_locations)
            package.__spec__ = spec
            sys.modules["uvicorn"] = package
            from uvicorn.config import Config
            from uvicorn.server import Server

            package.Config = Config  # type: ignore[attr-defined]
            package.Server = Server  # type: ignore[attr-defined]
    sys.modules.setdefault("pydantic.v1", None)  # type: ignore[arg-type]
