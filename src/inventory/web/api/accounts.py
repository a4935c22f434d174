"""Accounts: who am I, my password and API tokens; users and roles for admins."""

from __future__ import annotations

from typing import Any

from flask import session as cookie
from flask_smorest import Blueprint

from inventory import accounts as service
from inventory.db.models import ApiToken, Role, User
from inventory.web.api.schemas import (
    NewTokenSchema,
    PasswordChangeSchema,
    TokenCreateSchema,
    TokenListSchema,
    UserCreateSchema,
    UserListSchema,
    UserSchema,
    UserUpdateSchema,
)
from inventory.web.auth import requires
from inventory.web.context import current_user, db

blp = Blueprint("accounts", __name__, description="Your account, API tokens, users and roles")


@blp.route("/me", methods=["GET"])
@blp.response(200, UserSchema)
@requires(Role.viewer)
def me() -> User:
    return current_user()


@blp.route("/me/password", methods=["POST"])
@blp.arguments(PasswordChangeSchema)
@blp.response(204)
@requires(Role.viewer)
def change_password(data: dict[str, Any]) -> None:
    """Change your password; your other browser sessions are signed out."""
    service.change_password(
        session=db(),
        user=current_user(),
        current=data["current_password"],
        new=data["new_password"],
        keep_session_token=cookie.get("sid"),
    )


@blp.route("/me/tokens", methods=["GET"])
@blp.response(200, TokenListSchema)
@requires(Role.viewer)
def list_tokens() -> dict[str, list[ApiToken]]:
    return {"tokens": service.list_tokens(session=db(), user=current_user())}


@blp.route("/me/tokens", methods=["POST"])
@blp.arguments(TokenCreateSchema)
@blp.response(201, NewTokenSchema)
@requires(Role.viewer)
def create_token(data: dict[str, Any]) -> service.NewToken:
    """A personal API token with your role. The token is in this response only."""
    return service.create_token(session=db(), user=current_user(), name=data["name"])


@blp.route("/me/tokens/<id:token_id>", methods=["DELETE"])
@blp.response(204)
@requires(Role.viewer)
def revoke_token(token_id: int) -> None:
    service.revoke_token(session=db(), user=current_user(), token_id=token_id)


@blp.route("/users", methods=["GET"])
@blp.response(200, UserListSchema)
@requires(Role.admin)
def list_users() -> dict[str, list[User]]:
    return {"users": service.list_users(session=db())}


@blp.route("/users", methods=["POST"])
@blp.arguments(UserCreateSchema)
@blp.response(201, UserSchema)
@requires(Role.admin)
def create_user(data: dict[str, Any]) -> User:
    return service.create_user(session=db(), **data)


@blp.route("/users/<id:user_id>", methods=["PATCH"])
@blp.arguments(UserUpdateSchema)
@blp.response(200, UserSchema)
@requires(Role.admin)
def update_user(data: dict[str, Any], user_id: int) -> User:
    """Change a user's role, disable them (signs them out) or set a new password."""
    password = data.pop("password", None)
    user = service.update_user(session=db(), user_id=user_id, **data)
    if password is not None:
        service.set_password(session=db(), user=user, password=password)
    return user


@blp.route("/users/<id:user_id>", methods=["DELETE"])
@blp.response(204)
@requires(Role.admin)
def delete_user(user_id: int) -> None:
    service.delete_user(session=db(), user_id=user_id)
