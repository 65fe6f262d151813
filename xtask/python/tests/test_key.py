"""The template's content key (`db.key`): the same for every process of a run and for the next run of
the same content, another as soon as what `migrate` makes could differ (a setting, a migration file,
the server's version, the alias's options), and blind to what the xtask sets per run."""
import sys

import pytest

django = pytest.importorskip("django")

from xtask_runner.db import key as keys  # noqa: E402


@pytest.fixture(scope="module")
def connection(tmp_path_factory):
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
            USE_TZ=True,
            SECRET_KEY="test",
        )
        django.setup()
    from django.db import connections

    return connections["default"]


def key(connection, version="150000", root=None):
    keys._key_parts = None
    return keys.template_key(connection, version, root)


def test_the_same_content_makes_the_same_key(connection):
    assert key(connection) == key(connection)
    assert len(key(connection)) == 64


def test_a_setting_the_server_version_or_an_option_changes_it(connection, monkeypatch):
    from django.conf import settings

    first = key(connection)
    assert key(connection, "160000") != first, "another server version"
    monkeypatch.setattr(settings, "AUTH_USER_MODEL", "auth.User2", raising=False)
    assert key(connection) != first, "a setting that may change the schema"
    monkeypatch.undo()
    connection.settings_dict.setdefault("OPTIONS", {})["init_command"] = "PRAGMA x"
    try:
        assert key(connection) != first, "the alias's options"
    finally:
        del connection.settings_dict["OPTIONS"]["init_command"]
    assert key(connection) == first


def test_what_the_xtask_sets_per_run_does_not_change_it(connection, monkeypatch):
    from django.conf import settings

    first = key(connection)
    monkeypatch.setattr(settings, "MEDIA_ROOT", "/tmp/xtask-ab12cd34/media/gw0")
    monkeypatch.setenv("XTASK_RUN_ID", "zz99zz99")
    monkeypatch.setattr(settings, "CACHE_PREFIX", "run-zz99zz99", raising=False)
    assert key(connection) == first


def test_the_migration_files_are_part_of_it(connection):
    from django.apps import apps
    from django.db.migrations.loader import MigrationLoader

    files = keys._files_of_migrations(apps, MigrationLoader)
    names = {path.name for path in files}
    assert "0001_initial.py" in names, sorted(names)[:5]
    assert all("site-packages" in str(path) or path.suffix == ".py" for path in files)
    assert sys.modules["django"]


def test_the_same_content_in_another_checkout_makes_the_same_key(connection, monkeypatch):
    from django.conf import settings

    monkeypatch.setattr(settings, "FIXTURE_DIRS", ["/work/one/backend/fixtures"], raising=False)
    here = key(connection, root="/work/one")
    monkeypatch.setattr(settings, "FIXTURE_DIRS", ["/srv/clone/backend/fixtures"], raising=False)
    assert key(connection, root="/srv/clone") == here, "the checkout's path is not content"
    assert key(connection, root="/work/one") != here, "a path outside the checkout still is"
