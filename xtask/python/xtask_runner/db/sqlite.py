"""SQLite's kept template, for `db.templates`: a file, `<templates_dir>/<key>/<alias>.sqlite3`, built
once per key under a file lock (migrated in memory, backed up into a file of its own, renamed once
complete) and kept
between runs; each worker's test database is filled from it: an in-memory one (pytest-django's
default) with SQLite's backup API, a file by a copy, put under the run's own temp dir so that two runs
never share it. The two templates used last are kept (a branch and its base).
"""
import os
import time

from xtask_runner.db.isolation import load_spec
from xtask_runner.db.key import template_key
from xtask_runner.db.templates import _record, spans


def _sqlite_template(creation, original, verbosity, spec):
    """The alias's template file, built first when missing (or once per run under --fresh-db)."""
    import fcntl
    import sqlite3
    from pathlib import Path

    connection = creation.connection
    alias = connection.alias
    key = template_key(connection, f"sqlite-{sqlite3.sqlite_version}", spec.get("root"))
    base = Path(spec["templates_dir"])
    directory = base / key[:16]
    template = directory / f"{alias}.sqlite3"
    directory.mkdir(parents=True, exist_ok=True)
    with open(base / ".lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        mark = directory / f"{alias}.run"
        fresh = bool(spec.get("fresh")) and (not mark.exists() or mark.read_text(encoding="utf-8") != spec.get("run"))
        if not template.exists() or fresh:
            _build_sqlite(creation, original, verbosity, template)
            mark.write_text(str(spec.get("run")), encoding="utf-8")
            _prune_sqlite(base, keep=directory)
        # Its last use, for the pruning of old templates.
        os.utime(directory)
    return template


def _build_sqlite(creation, original, verbosity, template):
    """Migrates a database in memory (what pytest-django makes by default, and the fastest), then
    backs it up into a file of its own and renames that: a build cut short never leaves a template."""
    import sqlite3

    from django.conf import settings

    connection = creation.connection
    alias = connection.alias
    test = connection.settings_dict.setdefault("TEST", {})
    before = (connection.settings_dict["NAME"], test.get("NAME"))
    building = f"{template}.build-{os.getpid()}"
    started = time.time()
    test["NAME"] = None
    try:
        original(creation, verbosity=verbosity, autoclobber=True, serialize=False, keepdb=False)
        target = sqlite3.connect(building)
        try:
            connection.ensure_connection()
            connection.connection.backup(target)
        finally:
            target.close()
        os.replace(building, template)
    finally:
        if os.path.exists(building):
            os.remove(building)
        connection.settings_dict["NAME"], test["NAME"] = before
        settings.DATABASES[alias]["NAME"] = before[0]
    spans.append([f"migrate {template.parent.name}/{template.name}", started, time.time()])


def _prune_sqlite(base, keep):
    """Keeps the two templates used last (a branch and its base) and none unused for two weeks."""
    import shutil

    now = time.time()
    others = sorted(
        (entry for entry in base.iterdir() if entry.is_dir() and entry != keep),
        key=lambda entry: entry.stat().st_mtime,
        reverse=True,
    )
    for index, entry in enumerate(others):
        if index >= 1 or now - entry.stat().st_mtime > 14 * 24 * 3600:
            shutil.rmtree(entry, ignore_errors=True)


def sqlite_test_db(creation, original, verbosity, autoclobber, serialize, keepdb):
    """`create_test_db` for SQLite: the test database filled from the kept template, not migrated."""
    import shutil
    import sqlite3

    from django.conf import settings

    spec = load_spec()
    connection = creation.connection
    test = connection.settings_dict.get("TEST") or {}
    if keepdb or test.get("MIGRATE") is False or not spec.get("templates_dir"):
        started = time.time()
        name = original(creation, verbosity=verbosity, autoclobber=autoclobber, serialize=serialize, keepdb=keepdb)
        _record(f"migrate {name}", started)
        return name
    template = _sqlite_template(creation, original, verbosity, spec)
    started = time.time()
    name = creation._get_test_db_name()
    in_memory = creation.is_in_memory_db(name)
    if not in_memory and spec.get("isolation") == "xtask" and os.environ.get("TMPDIR"):
        # A file of this run's own (its temp dir goes with it), never one another run also uses.
        name = os.path.join(os.environ["TMPDIR"], os.path.basename(name))
    connection.close()
    if not in_memory:
        copy = f"{name}.copy-{os.getpid()}"
        shutil.copyfile(template, copy)
        os.replace(copy, name)
    settings.DATABASES[connection.alias]["NAME"] = name
    connection.settings_dict["NAME"] = name
    connection.ensure_connection()
    if in_memory:
        source = sqlite3.connect(str(template))
        try:
            source.backup(connection.connection)
        finally:
            source.close()
    spans.append([f"copy {template.parent.name}/{template.name} into {connection.alias}", started, time.time()])
    if serialize:
        connection._test_serialized_contents = creation.serialize_db_to_string()
    return name
