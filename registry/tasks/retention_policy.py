"""A retention policy's document: the JSON contract (`PolicySpec`, `PolicyPatch`) the API
serves and registry/tasks/retention.py stores, and its errors. A policy that cannot work is
refused with 400 (`InvalidPolicy`): registry/maintenance/retention_compile.py checks what
it selects and keeps before it is stored; the records check its cron."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from registry.errors import RegistryError
from registry.tasks.params import PolicyName

KEEP_FIELDS = ("keep_last", "keep_within", "keep_tags")


class InvalidPolicy(RegistryError):
    code, status, default_message = "INVALID_POLICY", 400, "invalid retention policy"


class PolicyNotFound(RegistryError):
    code, status, default_message = "NOT_FOUND", 404, "retention policy not found"


class PolicyExists(RegistryError):
    code, status, default_message = "CONFLICT", 409, "retention policy already exists"


class PolicySpec(BaseModel):
    """The policy as stored and served (every keep field optional)."""

    model_config = ConfigDict(extra="forbid")

    name: PolicyName
    repositories: str = Field(description="repository glob: `team/**`, `team/*`, `**`")
    keep_last: int | None = Field(None, description="keep the newest N tags by push time")
    keep_within: str | int | float | None = Field(
        None, description="keep tags pushed within this duration (`14d`, or seconds)"
    )
    keep_tags: str | None = Field(None, description="keep tags this regex finds (re.search)")
    delete_untagged: bool = False
    cron: str | None = Field(None, description="5-field cron in UTC: runs on its own schedule")
    gc_after: bool = Field(False, description="enqueue a gc when a real run succeeds")
    enabled: bool = Field(True, description="whether the cron schedule fires")
    confirm_delete_all: bool = Field(False, description="required when no keep field is set")


class PolicyPatch(BaseModel):
    """PATCH: the fields given replace the stored ones (null clears an optional one)."""

    model_config = ConfigDict(extra="forbid")

    repositories: str | None = None
    keep_last: int | None = None
    keep_within: str | int | float | None = None
    keep_tags: str | None = None
    delete_untagged: bool | None = None
    cron: str | None = None
    gc_after: bool | None = None
    enabled: bool | None = None
    confirm_delete_all: bool | None = None


def patched(spec: PolicySpec, patch: PolicyPatch) -> PolicySpec:
    """`spec` with the fields the patch sets; booleans cannot be cleared, only set."""
    changes = patch.model_dump(exclude_unset=True)
    for flag in ("repositories", "delete_untagged", "gc_after", "enabled", "confirm_delete_all"):
        if flag in changes and changes[flag] is None:
            raise InvalidPolicy(f"{flag}: cannot be null")
    return PolicySpec.model_validate({**spec.model_dump(), **changes})
