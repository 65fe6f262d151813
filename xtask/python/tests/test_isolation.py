"""The settings' isolation (`db.isolation`): every PostgreSQL alias points at the run's server, and how
the user asked to connect to it (`?sslmode=require` and the other libpq options of the URL) reaches
the tests' connections, while what the project's settings said of another server does not."""
from types import SimpleNamespace

from xtask_runner.contract import ENV
from xtask_runner.db import isolation


def settings_naming_another_server():
    return SimpleNamespace(
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "HOST": "db.elsewhere.invalid",
                "PORT": "5433",
                "NAME": "shop",
                "OPTIONS": {"sslmode": "disable", "connect_timeout": 3},
            },
            "files": {"ENGINE": "django.db.backends.sqlite3", "NAME": "files.sqlite3"},
        },
        MEDIA_ROOT="/srv/media",
    )


def test_the_urls_ssl_options_reach_the_tests_and_the_projects_own_are_dropped(monkeypatch, tmp_path):
    url = "postgresql://tester:pw@db.run.invalid:6543/postgres?sslmode=verify-full&sslrootcert=/etc/ca.pem"
    monkeypatch.setenv(ENV.DATABASE_URL, url)
    monkeypatch.setenv(ENV.TEST_DATABASE, "test_shop_run1_api")
    monkeypatch.setenv(ENV.MEDIA_BASE, str(tmp_path))
    settings = settings_naming_another_server()
    changed = isolation.isolate(settings, {"isolation": "xtask"})
    db = settings.DATABASES["default"]
    assert (db["HOST"], db["PORT"], db["USER"], db["PASSWORD"]) == ("db.run.invalid", "6543", "tester", "pw")
    assert db["OPTIONS"] == {"sslmode": "verify-full", "sslrootcert": "/etc/ca.pem", "connect_timeout": 3}
    assert db["TEST"]["NAME"] == "test_shop_run1_api"
    assert changed == [("default", "db.elsewhere.invalid:5433/shop")]
    assert settings.DATABASES["files"] == {"ENGINE": "django.db.backends.sqlite3", "NAME": "files.sqlite3"}


def test_a_url_without_options_leaves_libpq_its_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV.DATABASE_URL, "postgresql://postgres@/postgres?host=/tmp/xtask-pg-x&port=5432")
    monkeypatch.setenv(ENV.MEDIA_BASE, str(tmp_path))
    settings = settings_naming_another_server()
    isolation.isolate(settings, {"isolation": "xtask"})
    db = settings.DATABASES["default"]
    assert (db["HOST"], db["PORT"]) == ("/tmp/xtask-pg-x", "5432")
    assert db["OPTIONS"] == {"connect_timeout": 3}, "the project's sslmode=disable is not the run's server's"


def test_isolation_by_the_project_changes_nothing(monkeypatch):
    monkeypatch.setenv(ENV.DATABASE_URL, "postgresql://postgres@localhost/postgres?sslmode=require")
    settings = settings_naming_another_server()
    assert isolation.isolate(settings, {"isolation": "project"}) == []
    assert settings.DATABASES == settings_naming_another_server().DATABASES
