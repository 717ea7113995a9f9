"""The base of /api/v1 request bodies: an unknown key is a 422 naming it, never ignored
(a misspelt `grace_period` must not run a GC with the default)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
