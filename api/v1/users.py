"""/api/v1/users: users, robot accounts and their namespace permissions (admins only).

The pseudo-user `anonymous` takes `pull` grants only: they make a namespace public."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field, SecretStr

from api.auth.admin import current_principal
from api.v1.auth_errors import Conflict, NotFound, core
from api.v1.bodies import RequestBody
from api.v1.deps import DbDep
from api.v1.errors import V1Route, error_responses
from registry import audit
from registry.auth import permissions, users
from registry.auth.models import UserRow
from registry.auth.tokens import create_token
from registry.db.database import Database

router = APIRouter(prefix="/api/v1/users", tags=["users"], route_class=V1Route)

Action = Literal["pull", "push", "delete"]
NamespacePath = Annotated[str, Path(description="a repository name (prefix) or *")]


class Grant(BaseModel):
    namespace: str
    actions: list[Action]


class GrantIn(RequestBody):
    actions: list[Action] = Field(min_length=1, examples=[["pull", "push"]])


class UserIn(RequestBody):
    username: str = Field(min_length=1, max_length=128, examples=["alice"])
    password: SecretStr | None = Field(default=None, description="not for robots")
    admin: bool = False
    robot: bool = Field(default=False, description="a robot: token only, named robot$NAME")
    description: str = Field(default="", max_length=1024)
    permissions: list[Grant] = Field(default_factory=list)


class UserPatch(RequestBody):
    password: SecretStr | None = None
    admin: bool | None = None
    disabled: bool | None = None
    description: str | None = Field(default=None, max_length=1024)


class UserOut(BaseModel):
    username: str
    kind: str
    admin: bool
    disabled: bool
    description: str
    created_at: datetime
    updated_at: datetime
    permissions: list[Grant]


class UserCreated(UserOut):
    token: str | None = Field(description="a robot's first token: shown only in this answer")


class UserPage(BaseModel):
    items: list[UserOut]


def _grants(db: Database, principal: str) -> list[Grant]:
    return [
        Grant(namespace=row.namespace, actions=row.actions.split(","))
        for row in permissions.grants(db, principal)
    ]


def _out(db: Database, row: UserRow) -> UserOut:
    fields = row.model_dump(include=set(UserOut.model_fields) - {"permissions"})
    return UserOut(**fields, permissions=_grants(db, row.username))


@router.get("")
def list_all(db: DbDep) -> UserPage:
    return UserPage(items=[_out(db, row) for row in users.list_users(db)])


@router.post("", status_code=201, responses=error_responses(400, 409, 422))
def create(body: UserIn, response: Response, db: DbDep) -> UserCreated:
    """A user (with a password) or a robot account (answered with its first token)."""
    password = body.password.get_secret_value() if body.password else None
    new = users.NewUser(body.username, password, body.admin, body.robot, body.description)
    core(lambda: [permissions.validate_namespace(g.namespace) for g in body.permissions])
    row = core(lambda: users.create_user(db, new))
    core(lambda: _apply(db, row.username, body.permissions))
    token = create_token(db, row, "initial", "robot").token if row.kind == "robot" else None
    audit.record(db, "user.create", row.username, params=_summary(body), status=201)
    response.headers["Location"] = f"/api/v1/users/{row.username}"
    return UserCreated(**_out(db, row).model_dump(), token=token)


def _apply(db: Database, username: str, grants: list[Grant]) -> None:
    for grant in grants:
        permissions.set_permission(db, username, grant.namespace, grant.actions)


def _summary(body: UserIn) -> dict[str, object]:
    grants = [g.model_dump() for g in body.permissions]
    return {"admin": body.admin, "robot": body.robot, "permissions": grants}


@router.get("/{username}", responses=error_responses(404))
def show(username: str, db: DbDep) -> UserOut:
    return _out(db, core(lambda: users.get_user(db, username)))


@router.patch("/{username}", responses=error_responses(400, 404, 409, 422))
def change(username: str, body: UserPatch, request: Request, db: DbDep) -> UserOut:
    """Change the password, the admin role, or disable the account (its tokens stop)."""
    if username == current_principal(request).username and (
        body.admin is False or body.disabled is True
    ):
        raise Conflict("you cannot remove your own admin role or disable yourself")
    password = body.password.get_secret_value() if body.password else None
    row = core(
        lambda: users.update_user(
            db,
            username,
            password=password,
            admin=body.admin,
            disabled=body.disabled,
            description=body.description,
        )
    )
    changed = body.model_dump(exclude_none=True, exclude={"password"})
    if password is not None:
        changed["password"] = "changed"
    audit.record(db, "user.update", username, params=changed, status=200)
    return _out(db, row)


@router.delete("/{username}", status_code=204, responses=error_responses(404, 409))
def delete(username: str, request: Request, db: DbDep) -> Response:
    """Delete the user with its tokens and permissions: they stop working at once."""
    if username == current_principal(request).username:
        raise Conflict("you cannot delete yourself")
    core(lambda: users.delete_user(db, username))
    audit.record(db, "user.delete", username, status=204)
    return Response(status_code=204)


@router.get("/{username}/permissions", responses=error_responses(404))
def list_permissions(username: str, db: DbDep) -> list[Grant]:
    if username != permissions.ANONYMOUS:
        core(lambda: users.get_user(db, username))
    return _grants(db, username)


@router.put("/{username}/permissions/{namespace:path}", responses=error_responses(400, 404, 422))
def set_permission(username: str, namespace: NamespacePath, body: GrantIn, db: DbDep) -> Grant:
    """Grant actions on a namespace (replacing earlier ones); `anonymous` makes it public."""
    if username != permissions.ANONYMOUS:
        core(lambda: users.get_user(db, username))
    core(lambda: permissions.set_permission(db, username, namespace, body.actions))
    params = {"namespace": namespace, "actions": list(body.actions)}
    audit.record(db, "permission.set", username, params=params, status=200)
    return Grant(namespace=namespace, actions=sorted(set(body.actions)))


@router.delete(
    "/{username}/permissions/{namespace:path}", status_code=204, responses=error_responses(404)
)
def remove_permission(username: str, namespace: NamespacePath, db: DbDep) -> Response:
    if not permissions.remove_permission(db, username, namespace):
        raise NotFound(f"{username} has no grant on {namespace!r}")
    audit.record(db, "permission.remove", username, params={"namespace": namespace}, status=204)
    return Response(status_code=204)
