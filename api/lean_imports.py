"""What an HTTP worker process (cli/http_worker.py) skips importing: uvicorn's command line,
the pydantic v1 compatibility layer, and two optional modules Kombu pulls in when the worker
first enqueues a task, ~4 MiB of RSS it never uses (docs/benchmarks.md, "Footprint"). Call
`install()` first thing, before anything imports uvicorn, FastAPI or Kombu.

- uvicorn's package `__init__` imports `uvicorn.main`: its CLI (click), the reloader
  (watchfiles) and the multiprocess supervisor (multiprocessing). A worker needs only
  `uvicorn.config`, `uvicorn.server`, the protocols and the lifespan: the package is
  registered bare (its path, no `__init__` run), with the two names its own modules take
  from it (`from uvicorn import Config`).
- FastAPI asks, for every response model, whether it is a pydantic v1 model, importing
  `pydantic.v1` (1.5 MiB) to find out; none is: marked absent, the check answers no.
- Kombu (worker/publish.py) registers a YAML serializer when PyYAML imports (0.7 MiB), and
  takes its after-fork hook from billiard (with cffi: 0.5 MiB), which
  re-exports multiprocessing's, Kombu's fallback. A worker sends JSON only (Celery's
  `accept_content` too): those two module bodies run with PyYAML and billiard refused
  (`_WITHOUT`), the same hook results; both stay importable by anything else.
- FastAPI defines the OpenAPI document's pydantic models (fastapi.openapi.models, 1.3 MiB
  built) when it is imported; a worker validates with them only when it writes that
  document. FastAPI is imported with pydantic's `defer_build` default on: each model is
  built on its first use instead (pydantic's own mechanism; the three models FastAPI
  rebuilds explicitly at import are built then, as before).
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec, PathFinder

# module -> optional imports its body tries, which an HTTP worker goes without
_WITHOUT: dict[str, tuple[str, ...]] = {
    "kombu.serialization": ("yaml",),
    "kombu.utils.compat": ("billiard",),
}


def install() -> None:
    """Register the bare uvicorn package, the absent pydantic.v1, FastAPI with its models
    built on first use and the finder of `_WITHOUT`'s modules, unless already imported."""
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
    if "fastapi" not in sys.modules:
        with _models_built_on_first_use():
            importlib.import_module("fastapi")
    if not any(isinstance(finder, _Without) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Without())


@contextmanager
def _models_built_on_first_use() -> Iterator[None]:
    """pydantic's `defer_build` default on while the block runs (for models of any module
    imported meanwhile, which is start-up: no other thread defines models yet); where this
    pydantic keeps its defaults otherwise, models are built as they come."""
    from pydantic._internal import _config

    defaults = getattr(_config, "config_defaults", None)
    if not isinstance(defaults, dict) or defaults.get("defer_build") is not False:
        yield
        return
    defaults["defer_build"] = True
    try:
        yield
    finally:
        defaults["defer_build"] = False


class _Without(MetaPathFinder):
    """Finds `_WITHOUT`'s modules (not yet imported) as the path finder does, with a loader
    that runs their body with their optional imports refused, in that thread only: any
    other thread imports them as usual meanwhile."""

    def __init__(self) -> None:
        self.refused: dict[int, tuple[str, ...]] = {}  # thread -> what it may not import

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> ModuleSpec | None:
        if fullname in self.refused.get(threading.get_ident(), ()):
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        absent = _WITHOUT.get(fullname)
        if absent is None:
            return None
        spec = PathFinder.find_spec(fullname, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _LoaderWithout(spec.loader, absent, self)
        return spec


class _LoaderWithout(Loader):
    def __init__(self, loader: Loader, absent: tuple[str, ...], finder: _Without) -> None:
        self.loader, self.absent, self.finder = loader, absent, finder

    def create_module(self, spec: ModuleSpec) -> types.ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        thread, refused = threading.get_ident(), self.finder.refused
        outer = refused.get(thread, ())  # one such body may import the other
        refused[thread] = outer + self.absent
        try:
            self.loader.exec_module(module)
        finally:
            if outer:
                refused[thread] = outer
            else:
                del refused[thread]
