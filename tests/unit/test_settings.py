"""Settings refuse bad values with one line naming the variable."""

from pathlib import Path

import pytest

from inventory.settings import Settings, SettingsError

GOOD_SECRET = "k" * 48


def test_defaults_use_the_embedded_database() -> None:
    settings = Settings.from_env({})
    assert settings.embedded_database
    assert settings.flask_env == "development"
    assert settings.image_storage_method == "filesystem"


def test_external_database_url_comes_from_postgres_variables() -> None:
    settings = Settings.from_env(
        {"POSTGRES_HOST": "postgres", "POSTGRES_PASSWORD": "s3cret", "POSTGRES_DB": "inventory_db"}
    )
    assert (
        settings.database_url()
        == "postgresql+psycopg://inventory:s3cret@postgres:5432/inventory_db"
    )


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("", "SECRET_KEY: required"),
        ("inventory_docker_secret_key_change_in_production", "SECRET_KEY: still the placeholder"),
        ("change-me", "SECRET_KEY: still the placeholder"),
        ("short-but-random", "SECRET_KEY: too short"),
    ],
)
def test_production_refuses_weak_secret(secret: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"FLASK_ENV": "production", "SECRET_KEY": secret})


def test_production_accepts_a_long_random_secret() -> None:
    assert Settings.from_env({"FLASK_ENV": "production", "SECRET_KEY": GOOD_SECRET}).is_production


def test_secrets_can_come_from_files(tmp_path: Path) -> None:
    (tmp_path / "key").write_text(GOOD_SECRET + "\n")
    (tmp_path / "pw").write_text("from-a-docker-secret\n")
    settings = Settings.from_env(
        {
            "FLASK_ENV": "production",
            "SECRET_KEY_FILE": str(tmp_path / "key"),
            "POSTGRES_PASSWORD_FILE": str(tmp_path / "pw"),
        }
    )
    assert settings.secret_key == GOOD_SECRET
    assert settings.postgres_password == "from-a-docker-secret"


def test_unreadable_secret_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^SECRET_KEY_FILE: cannot read"):
        Settings.from_env({"SECRET_KEY_FILE": str(tmp_path / "missing")})


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("POSTGRES_PORT", "abc", "whole number from 1 to 65535"),
        ("POSTGRES_PORT", "70000", "whole number from 1 to 65535"),
        ("FLASK_ENV", "staging", "one of production, development"),
        ("IMAGE_STORAGE_METHOD", "s3", "one of filesystem, database"),
        ("EMBEDDING_BACKEND", "tensorflow", "one of onnx, sentence-transformers"),
        ("CF_WORKER_URL", "http://register.example", "https:// URL"),
        ("MAX_UPLOAD_MB", "0", "whole number from 1 to 1024"),
    ],
)
def test_bad_value_names_the_variable(name: str, value: str, allowed: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({name: value})
    message = str(caught.value)
    assert message.startswith(f"{name}: ")
    assert allowed in message
    assert "\n" not in message


def test_secrets_are_not_in_repr() -> None:
    settings = Settings.from_env({"SECRET_KEY": GOOD_SECRET, "POSTGRES_PASSWORD": "pw-value"})
    assert GOOD_SECRET not in repr(settings)
    assert "pw-value" not in repr(settings)


def test_development_generates_and_keeps_a_secret(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).with_secret_key()
    second = Settings(data_dir=tmp_path).with_secret_key()
    assert len(first.secret_key) >= 32
    assert first.secret_key == second.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
