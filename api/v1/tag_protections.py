"""/api/v1/tag-protections: immutable-tag rules (admin only, every change audited).

A rule protects the tags whose whole name matches its `tags` regular expression in the
repositories its `repositories` glob selects; docs/tag-protection.md says what that refuses.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from api.auth.admin import current_principal
from api.state import app_state
from api.v1.deps import DbDep
from api.v1.errors import V1Route, error_responses
from registry import audit
from registry.tasks import tag_protections
from registry.tasks.tag_protections import TagProtectionRow

router = APIRouter(prefix="/api/v1/tag-protections", tags=["tag-protections"], route_class=V1Route)


class RuleIn(BaseModel):
    name: str = Field(description="1-64 of a-z 0-9 . _ -; the rule's id", examples=["releases"])
    repositories: str = Field(description="repository glob (*, ?, **)", examples=["team/**"])
    tags: str = Field(
        description="regular expression the whole tag must match", examples=[r"v\d+\.\d+\.\d+"]
    )


class RuleOut(RuleIn):
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, row: TagProtectionRow) -> RuleOut:
        return cls(**row.model_dump())


class RulePage(BaseModel):
    items: list[RuleOut]


@router.get("")
def list_all(db: DbDep) -> RulePage:
    return RulePage(items=[RuleOut.of(row) for row in tag_protections.list_rules(db)])


@router.post("", status_code=201, responses=error_responses(409, 422))
def create(body: RuleIn, request: Request, response: Response, db: DbDep) -> RuleOut:
    """Protect the matching tags: from now on (within 5 s on every instance) a push that
    would move one, or a delete that would remove one, is refused with 412 DENIED."""
    actor = current_principal(request).username
    row = tag_protections.create_rule(db, body.name, body.repositories, body.tags, actor)
    app_state(request).tag_guard.invalidate()
    audit.record(db, "tag_protection.create", row.name, params=body.model_dump(), status=201)
    response.headers["Location"] = f"/api/v1/tag-protections/{row.name}"
    return RuleOut.of(row)


@router.get("/{name}", responses=error_responses(404))
def show(name: str, db: DbDep) -> RuleOut:
    return RuleOut.of(tag_protections.get_rule(db, name))


@router.delete("/{name}", status_code=204, responses=error_responses(404))
def delete(name: str, request: Request, db: DbDep) -> Response:
    row = tag_protections.delete_rule(db, name)
    app_state(request).tag_guard.invalidate()
    params = {"repositories": row.repositories, "tags": row.tags}
    audit.record(db, "tag_protection.delete", name, params=params, status=204)
    return Response(status_code=204)
