"""The configuration reference (docs/configuration.md), generated from the settings models."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from registry.config import Settings
from registry.config.drivers import SETTINGS_BY_DRIVER
from registry.durations import as_duration, duration_text

_HEADER = """# Configuration reference

Generated from the settings models (`python -m registry.config.reference > docs/configuration.md`);
a test keeps it current. `hth.json` is found at `--config FILE`, else `$HTH_CONFIG`, else
`/var/opt/hth/shared/hth.json` when it exists, else the embedded default (data under `./var`).
Unknown keys and wrong types are errors that name the key path. Durations (type `duration`)
are Go-style text (`"90s"`, `"1h30m"`, `"168h"`) or a number of seconds (`3600`, `0`, `"3600"`);
negative ones are refused. They are parsed once, when hth.json is loaded, into a `timedelta`, and
shown (defaults here, `hth-ctl show-config`) in their largest whole unit up to hours (`"1m"`).
Secrets are shown as `***` by `hth-ctl show-config` and the API.
"""


def _type_name(info: FieldInfo) -> str:
    if any(getattr(m, "func", None) is as_duration for m in info.metadata):
        return "duration"
    text = str(info.annotation).replace("<class '", "").replace("'>", "")
    for module in ("typing.", "ipaddress.", "pydantic.types."):
        text = text.replace(module, "")
    return text.replace(" | ", " or ")


def _default(info: FieldInfo) -> str:
    if info.default is PydanticUndefined and info.default_factory is None:
        return "**required**"
    if info.default_factory is not None:
        value: Any = info.default_factory()  # type: ignore[call-arg]
        return "" if isinstance(value, BaseModel) else f"`{value!r}`"
    if isinstance(info.default, timedelta):
        return f"`{duration_text(info.default)!r}`"
    return f"`{info.default!r}`"


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    for name, info in model.model_fields.items():
        if info.exclude:
            continue
        path = f"{prefix}{name}"
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows.extend(_rows(annotation, f"{path}."))
        else:
            rows.append(f"| `{path}` | {_type_name(info)} | {_default(info)} |")
    return rows


def reference_markdown() -> str:
    lines = [_HEADER, "## Settings", "", "| key | type | default |", "|---|---|---|"]
    lines += _rows(Settings, "")
    lines += ["", "## Storage drivers (`docker_registry.storage_settings`)", ""]
    for driver, model in SETTINGS_BY_DRIVER.items():
        lines += [f"### {driver}", "", "| key | type | default |", "|---|---|---|"]
        lines += _rows(model, "")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(reference_markdown(), end="")
