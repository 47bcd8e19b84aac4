"""Settings are strict: bad values are errors, production needs secrets, check --deploy is clean."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from config.core.env import env_bool, env_int, load_dotenv

ROOT = Path(__file__).resolve().parent.parent


def test_a_bad_boolean_is_an_error_not_false(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "ture")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG='ture' is not a boolean"):
        env_bool("SOME_FLAG", False)


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("Yes", True), ("off", False)])
def test_booleans_accept_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("SOME_FLAG", raw)
    assert env_bool("SOME_FLAG", not expected) is expected


def test_a_bad_integer_is_an_error(monkeypatch):
    monkeypatch.setenv("SOME_NUMBER", "12x")
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env_int("SOME_NUMBER", 1)


def test_dotenv_does_not_override_the_environment(monkeypatch, tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("# comment\nFROM_DOTENV=one\nALREADY_SET='two'\n")
    monkeypatch.setenv("ALREADY_SET", "kept")
    monkeypatch.delenv("FROM_DOTENV", raising=False)
    load_dotenv(dotenv)
    assert os.environ["FROM_DOTENV"] == "one"
    assert os.environ["ALREADY_SET"] == "kept"


def _manage(*args, **env):
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DJANGO_") and key != "PYTEST_CURRENT_TEST"
    }
    base.update({"DATABASE_URL": settings.DATABASE_URL, "REDIS_URL": settings.REDIS_URL})
    base.update(env)
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", DJANGO_DEBUG="false", DJANGO_ALLOWED_HOSTS="trade.example.com")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_a_bad_boolean_in_the_environment_stops_start_up():
    result = _manage("check", DJANGO_DEBUG="maybe")
    assert result.returncode != 0
    assert "DJANGO_DEBUG='maybe' is not a boolean" in result.stderr


def test_check_deploy_is_clean_with_production_settings():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="x" * 20 + "-production-secret-key-for-the-deploy-check-0123456789",
        DJANGO_ALLOWED_HOSTS="trade.example.com",
        FIELD_ENCRYPTION_KEYS="mWYYfPzIfvr1XEfk1ciHBoKO2Z7a0a3rRVNqJ3H8Chs=",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
