import importlib

import pytest

from config.dburl import DatabaseUrlError, parse_database_url

pytestmark = pytest.mark.unit


def test_tcp_url():
    db = parse_database_url("postgresql://korrigo:s3cret@db.example:6543/grading")
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "korrigo", "s3cret", "db.example", "6543", "grading",
    )


def test_unix_socket_url_from_query():
    db = parse_database_url("postgresql://postgres@/postgres?host=/tmp/xtask-pg-ab12/sock&port=5433")
    assert db["HOST"] == "/tmp/xtask-pg-ab12/sock"
    assert db["PORT"] == "5433"
    assert db["OPTIONS"] == {}


def test_percent_encoded_password():
    assert parse_database_url("postgres://u:p%40ss@h/d")["PASSWORD"] == "p@ss"


def test_extra_query_becomes_options():
    assert parse_database_url("postgresql://u@h/d?sslmode=require")["OPTIONS"] == {"sslmode": "require"}


def test_missing_database_name_defaults_to_postgres():
    assert parse_database_url("postgresql://u@h")["NAME"] == "postgres"


@pytest.mark.parametrize("url", ["mysql://u@h/d", "sqlite:///db.sqlite3", "localhost:5432"])
def test_non_postgres_url_is_refused(url):
    with pytest.raises(DatabaseUrlError, match="postgresql://"):
        parse_database_url(url)


def test_test_database_name_is_the_one_the_xtask_gives(monkeypatch):
    monkeypatch.setenv("XTASK_TEST_DATABASE", "test_viatique_k3x9a0b2_api")
    import config.settings_test as settings_test

    reloaded = importlib.reload(settings_test)
    assert reloaded.DATABASES["default"]["TEST"]["NAME"] == "test_viatique_k3x9a0b2_api"
    monkeypatch.delenv("XTASK_TEST_DATABASE")
    assert importlib.reload(settings_test).DATABASES["default"]["TEST"]["NAME"] == "test_viatique_local_all"


def test_unsafe_test_database_name_is_refused(monkeypatch):
    monkeypatch.setenv("XTASK_TEST_DATABASE", "Robert'); DROP")
    import config.settings_test as settings_test

    with pytest.raises(ValueError, match="XTASK_TEST_DATABASE"):
        importlib.reload(settings_test)
    monkeypatch.undo()
    importlib.reload(settings_test)
