"""Browser sign-in, sessions, CSRF, throttling, passwords and API tokens."""

from typing import Any

from flask import Flask
from sqlalchemy import text

from inventory.db.session import Database
from tests.conftest import PASSWORD, ApiClient
from tests.helpers import form_token, sign_in


def test_sign_in_sets_a_protected_cookie_and_reaches_pages(app: Flask, admin: ApiClient) -> None:
    client = app.test_client()
    response = sign_in(client, "admin-user")
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/me").json["username"] == "admin-user"


def test_form_without_csrf_token_is_refused(app: Flask, admin: ApiClient) -> None:
    client = app.test_client()
    response = client.post("/login", data={"username": "admin-user", "password": PASSWORD})
    assert response.status_code == 403
    assert client.get("/").status_code == 302


def test_cookie_api_writes_need_the_csrf_header(app: Flask, editor: ApiClient) -> None:
    client = app.test_client()
    sign_in(client, "editor-user")
    assert client.post("/api/v1/items", json={"name": "Kettle"}).status_code == 403
    token = form_token(client, "/")
    created = client.post("/api/v1/items", json={"name": "Kettle"}, headers={"X-CSRFToken": token})
    assert created.status_code == 201


def test_session_id_rotates_atsign_in(app: Flask, admin: ApiClient) -> None:
    client = app.test_client()
    client.get("/login")
    before = client.get_cookie("inventory_session")
    sign_in(client, "admin-user")
    after = client.get_cookie("inventory_session")
    assert after is not None
    assert before is None or before.value != after.value


def test_logout_invalidates_the_session_even_if_the_cookie_is_replayed(
    app: Flask, admin: ApiClient
) -> None:
    client = app.test_client()
    sign_in(client, "admin-user")
    stolen = client.get_cookie("inventory_session")
    assert stolen is not None
    client.post("/logout", data={"csrf_token": form_token(client, "/")})
    attacker = app.test_client()
    attacker.set_cookie("inventory_session", stolen.value)
    assert attacker.get("/").status_code == 302
    assert attacker.get("/api/v1/me").status_code == 401


def test_expired_session_is_refused(app: Flask, admin: ApiClient, database: Database) -> None:
    client = app.test_client()
    sign_in(client, "admin-user")
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE user_sessions SET expires_at = now() - interval '1 second'"))
    assert client.get("/").status_code == 302
    assert client.get("/api/v1/me").status_code == 401


def test_password_change_signs_out_other_sessions(app: Flask, admin: ApiClient) -> None:
    phone, laptop = app.test_client(), app.test_client()
    sign_in(phone, "admin-user")
    sign_in(laptop, "admin-user")
    response = laptop.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        headers={"X-CSRFToken": form_token(laptop, "/")},
    )
    assert response.status_code == 204
    assert laptop.get("/api/v1/me").status_code == 200
    assert phone.get("/api/v1/me").status_code == 401
    assert sign_in(app.test_client(), "admin-user").status_code == 401
    assert sign_in(app.test_client(), "admin-user", "a brand new passphrase").status_code == 302


def test_wrong_current_password_is_refused(admin: ApiClient) -> None:
    response = admin.post(
        "/api/v1/me/password",
        json={"current_password": "wrong password", "new_password": "another passphrase"},
    )
    assert response.status_code == 422
    assert "current_password" in response.json["errors"]


def test_failed_sign_ins_are_throttled_per_account_then_forgiven(
    app: Flask, admin: ApiClient, database: Database
) -> None:
    client = app.test_client()
    statuses = [sign_in(client, "admin-user", "wrong password").status_code for _ in range(5)]
    assert statuses[:4] == [401, 401, 401, 401]
    assert statuses[4] == 429
    blocked = sign_in(app.test_client(), "admin-user")  # even the right password waits
    assert blocked.status_code == 429
    assert "try again in" in blocked.get_data(as_text=True)
    with database.engine.begin() as conn:  # the wait passes
        conn.execute(text("UPDATE login_throttle SET blocked_until = now() - interval '1 second'"))
    assert sign_in(app.test_client(), "admin-user").status_code == 302


def test_failed_sign_ins_are_throttled_per_address(app: Flask, make_api: Any) -> None:
    for number in range(5):
        make_api("viewer", f"user{number}")
    client = app.test_client()
    statuses = [sign_in(client, f"user{n}", "wrong password").status_code for n in range(5)]
    assert statuses[-1] == 429  # different accounts, one address


def test_unknown_user_and_wrong_password_look_the_same(app: Flask, admin: ApiClient) -> None:
    unknown = sign_in(app.test_client(), "nobody", "whatever pass")
    wrong = sign_in(app.test_client(), "admin-user", "whatever pass")
    assert unknown.status_code == wrong.status_code == 401
    assert "wrong username or password" in unknown.get_data(as_text=True)


def test_login_next_only_follows_local_paths(app: Flask, admin: ApiClient) -> None:
    client = app.test_client()
    response = client.post(
        "/login",
        data={
            "username": "admin-user",
            "password": PASSWORD,
            "next": "https://evil.example/",
            "csrf_token": form_token(client),
        },
    )
    assert response.location == "/"


def test_tokens_are_shown_once_and_track_last_use(app: Flask, viewer: ApiClient) -> None:
    created = viewer.post("/api/v1/me/tokens", json={"name": "phone app"})
    assert created.status_code == 201
    secret = created.json["token"]
    assert secret.startswith("inv_")
    listed = viewer.get("/api/v1/me/tokens").json["tokens"]
    assert all("token" not in entry for entry in listed)
    phone = ApiClient(client=app.test_client(), user=viewer.user, token=secret)
    assert phone.get("/api/v1/items").status_code == 200
    used = next(
        t for t in viewer.get("/api/v1/me/tokens").json["tokens"] if t["name"] == "phone app"
    )
    assert used["last_used_at"] is not None
    assert phone.post("/api/v1/items", json={"name": "x"}).status_code == 403  # token = role


def test_admin_manages_users_but_keeps_one_admin(admin: ApiClient) -> None:
    created = admin.post(
        "/api/v1/users",
        json={"username": "sam", "password": "sam's long password", "role": "editor"},
    )
    assert created.status_code == 201
    assert (
        admin.post(
            "/api/v1/users",
            json={"username": "SAM", "password": "another long one", "role": "viewer"},
        ).status_code
        == 409
    )
    weak = admin.post(
        "/api/v1/users", json={"username": "kim", "password": "short", "role": "viewer"}
    )
    assert weak.status_code == 422
    me = admin.get("/api/v1/me").json
    demoted = admin.patch(f"/api/v1/users/{me['id']}", json={"role": "viewer"})
    assert demoted.status_code == 409
    assert (
        admin.patch(f"/api/v1/users/{created.json['id']}", json={"role": "viewer"}).json["role"]
        == "viewer"
    )


def test_first_run_setup_creates_the_admin_once(app: Flask, database: Database) -> None:
    client = app.test_client()
    assert client.get("/login").location == "/setup"
    token = form_token(client, "/setup")
    mismatch = client.post(
        "/setup",
        data={
            "username": "owner",
            "password": "long enough pw",
            "confirm": "different pw!",
            "csrf_token": token,
        },
    )
    assert mismatch.status_code == 422
    created = client.post(
        "/setup",
        data={
            "username": "owner",
            "password": "long enough pw",
            "confirm": "long enough pw",
            "csrf_token": token,
        },
    )
    assert created.status_code == 302
    assert client.get("/api/v1/me").json == {**client.get("/api/v1/me").json, "role": "admin"}
    late = app.test_client()
    assert late.get("/setup").location == "/login"
    assert late.post(
        "/setup",
        data={"username": "intruder", "password": "long enough pw", "confirm": "long enough pw"},
    ).status_code in (302, 403)
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM users")).scalar() == 1
