"""Test databases for `cargo xtask`, shipped beside its pytest plugin (`plugin`).

Migrate once (`migrate = "once"`, the default): the first process that needs a test database builds
a migrated template, `xtask_tpl_<project>_<key>` (the key: `db.key`), under a lock on the
server; every process clones it (`CREATE DATABASE ... TEMPLATE`, one at a time). A template is built
under a test database's name and renamed only once complete, so a half-made one is never used; it is
kept on the server for later runs, and the older ones of a project (beyond the two used last) are
dropped. The xdist controller builds it while its workers start, then clones it once per worker
under the name that worker will ask for (`db.early`): a worker that finds its clone made for this
run adopts it, so the clones, one at a time, overlap the workers' start-up and collection.

SQLite's template is a file (`db.sqlite`).

Also a command, for E2E set-ups: `python -m xtask_runner.db.templates clone NAME` clones the template (building
it when missing) into NAME, with the settings of DJANGO_SETTINGS_MODULE.
"""
import hashlib
import sys
import time

from xtask_runner.contract import ENV, line
from xtask_runner.db.key import template_key
from xtask_runner.db.isolation import isolate, load_spec

# Set-up spans recorded in this process ([name, start, stop]): the plugin books them as set-up, not
# as the duration of the test that happened to trigger them.
spans = []
# Django's own `create_test_db`, once `install` replaced it.
_original = None


# --- the template ---------------------------------------------------------------------------------


def template_name(project, key):
    return f"xtask_tpl_{project}_{key[:16]}"


def _lock_id(project):
    """An advisory lock per project on the server: builds, clones and drops of templates take turns."""
    return int.from_bytes(hashlib.sha256(f"xtask-templates:{project}".encode()).digest()[:8], "big", signed=True)


def _quote(name):
    return '"' + name.replace('"', '""') + '"'


def _record(name, start):
    spans.append([name, start, time.time()])


def _note_created(name):
    """The sweep of a run killed outright drops exactly the names its run recorded."""
    path = (load_spec() or {}).get("names_file")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(name + "\n")


def _comment(cursor, name, fields):
    text = "xtask template: " + " ".join(f"{key}={value}" for key, value in fields.items())
    cursor.execute(f"COMMENT ON DATABASE {_quote(name)} IS %s", [text])


def _fields(text):
    return dict(part.split("=", 1) for part in (text or "").removeprefix("xtask template: ").split() if "=" in part)


def _templates(cursor, project):
    cursor.execute(
        "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database WHERE datname LIKE %s",
        [f"xtask\\_tpl\\_{project}\\_%"],
    )
    return {name: _fields(comment) for name, comment in cursor.fetchall()}


def unreachable(db, error):
    """One line naming the server the settings point at (never the password)."""
    where = f"{db.get('HOST') or 'localhost (socket)'}:{db.get('PORT') or 5432}"
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return (
        f"cannot reach PostgreSQL at {where} as {db.get('USER') or 'the default user'} "
        f"(database {db.get('NAME') or 'postgres'}): {first}"
    )


def _under_lock(creation, then, unlocked=None):
    """Reaches the server, computes the alias's template name and, holding the project's lock on the
    server, calls `then(cursor, template, server_version, known, fresh)`; unless `unlocked(cursor,
    template)`, asked first, says that nothing is left to do."""
    spec = load_spec()
    connection = creation.connection
    project = spec["project"]
    try:
        cursor_context = creation._nodb_cursor()
        cursor = cursor_context.__enter__()
    except Exception as error:  # noqa: BLE001 - the driver's own error class varies
        raise DatabaseUnreachable(unreachable(connection.settings_dict, error)) from error
    try:
        cursor.execute("SHOW server_version_num")
        server_version = cursor.fetchone()[0]
        template = template_name(project, template_key(connection, server_version, spec.get("root")))
        if unlocked is not None and unlocked(cursor, template):
            return
        cursor.execute("SELECT pg_advisory_lock(%s)", [_lock_id(project)])
        try:
            known = _templates(cursor, project)
            # --fresh-db: built again once in this run (the first to get here), then used.
            fresh = bool(spec.get("fresh")) and known.get(template, {}).get("run") != spec.get("run")
            then(cursor, template, server_version, known, fresh)
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_lock_id(project)])
    finally:
        cursor_context.__exit__(None, None, None)


def _clone(cursor, template, name, server_version, spec):
    """CREATE DATABASE name as a copy of template (the caller holds the lock), and the template's
    last use noted."""
    _note_created(name)
    # FILE_COPY on the run's private server (fsync off): faster than the default WAL_LOG for a
    # small template; a shared server keeps its default.
    strategy = " STRATEGY FILE_COPY" if spec.get("private") and int(server_version) >= 150000 else ""
    cursor.execute(f"CREATE DATABASE {_quote(name)} TEMPLATE {_quote(template)}{strategy}")
    fields = _fields_of(cursor, template)
    fields["used"] = int(time.time())
    try:
        _comment(cursor, template, fields)
    except Exception:  # noqa: BLE001 - another role's template: its use is not recorded
        pass


def _adopt(cursor, name, template, spec):
    """A clone the controller made for this worker in this run, of this very template: taken as it
    is, its mark removed so that no later session (`stress` runs several) takes it again."""
    fields = _fields_of(cursor, name)
    if fields.get("preclone") != template or fields.get("run") != str(spec.get("run")):
        return False
    cursor.execute(f"COMMENT ON DATABASE {_quote(name)} IS NULL")
    return True


def _take_ahead(cursor, name, template, spec):
    """`_adopt`, booked as a set-up span when it took the controller's clone."""
    started = time.time()
    if not _adopt(cursor, name, template, spec):
        return False
    spans.append([f"take {name} (cloned ahead from {template})", started, time.time()])
    return True


def clone_from_template(creation, original, verbosity, serialize):
    """`create_test_db` by cloning the alias's template (built first when missing)."""
    from django.conf import settings

    spec = load_spec()
    connection = creation.connection
    name = creation._get_test_db_name()

    def clone(cursor, template, server_version, known, fresh):
        if template not in known or fresh:
            _build(creation, original, cursor, template, known, name, verbosity, fresh)
        # The controller may have made it while this worker waited for the lock.
        if _take_ahead(cursor, name, template, spec):
            return
        started = time.time()
        cursor.execute(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")
        _clone(cursor, template, name, server_version, spec)
        spans.append([f"clone {template} as {name}", started, time.time()])

    # A clone the controller made for this worker needs no lock: the controller marks it only once
    # it is complete, and no other process takes a clone marked for another worker's name.
    _under_lock(creation, clone, unlocked=lambda cursor, template: _take_ahead(cursor, name, template, spec))
    connection.close()
    settings.DATABASES[connection.alias]["NAME"] = name
    connection.settings_dict["NAME"] = name
    if serialize:
        connection._test_serialized_contents = creation.serialize_db_to_string()
    connection.ensure_connection()
    return name


def _fields_of(cursor, name):
    cursor.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [name])
    row = cursor.fetchone()
    return _fields(row[0] if row else "")


def _build(creation, original, cursor, template, known, name, verbosity, fresh):
    """Migrates a new database under this worker's test database name, then renames it: a build cut
    short leaves a test database (which the run drops), never a template."""
    spec = load_spec()
    connection = creation.connection
    started = time.time()
    _note_created(name)
    original(creation, verbosity=verbosity, autoclobber=True, serialize=False, keepdb=False)
    # Data migrations leave dead rows and bloated indexes: compacted once here, every clone is smaller.
    with connection.cursor() as compact:
        compact.execute("VACUUM (FULL, ANALYZE)")
    connection.close()
    if hasattr(connection, "close_pool"):
        connection.close_pool()
    if fresh:
        cursor.execute(f"DROP DATABASE IF EXISTS {_quote(template)} WITH (FORCE)")
    cursor.execute(f"ALTER DATABASE {_quote(name)} RENAME TO {_quote(template)}")
    cursor.execute(f"ALTER DATABASE {_quote(template)} WITH ALLOW_CONNECTIONS false")
    now = int(time.time())
    from django.conf import settings

    fields = {
        "project": spec["project"],
        "alias": connection.alias,
        "settings": getattr(settings, "SETTINGS_MODULE", None) or "-",
        "run": spec.get("run"),
        "built": now,
        "used": now,
    }
    _comment(cursor, template, fields)
    spans.append([f"migrate {template}", started, time.time()])
    if spec.get("built_file"):
        with open(spec["built_file"], "a", encoding="utf-8") as handle:
            handle.write(template + "\n")
    # Of this alias and settings, keep the two templates used last (a branch and its base), and drop
    # any of the project unused for two weeks.
    same = lambda f: (f.get("alias"), f.get("settings")) == (fields["alias"], fields["settings"])  # noqa: E731
    mine = sorted(
        ((int(f.get("used", 0)), other) for other, f in known.items() if same(f) and other != template), reverse=True
    )
    stale = [other for other, f in known.items() if now - int(f.get("used", now)) > 14 * 24 * 3600]
    for other in stale:
        if other != template:
            cursor.execute(f"DROP DATABASE IF EXISTS {_quote(other)} WITH (FORCE)")
    for _, other in mine[1:]:
        if other != template and other not in stale:
            cursor.execute(f"DROP DATABASE IF EXISTS {_quote(other)} WITH (FORCE)")


class DatabaseUnreachable(Exception):
    """The server the settings name cannot be reached: one line says which."""


def install():
    """Makes every PostgreSQL test database a clone of its template."""
    from django.db.backends.base.creation import BaseDatabaseCreation

    global _original
    original = BaseDatabaseCreation.create_test_db
    if getattr(original, "_xtask", False):
        return
    _original = original

    def create_test_db(self, verbosity=1, autoclobber=False, serialize=True, keepdb=False):
        spec = load_spec()
        if self.connection.vendor == "sqlite" and spec and spec.get("migrate") == "once":
            from xtask_runner.db.sqlite import sqlite_test_db

            return sqlite_test_db(self, original, verbosity, autoclobber, serialize, keepdb)
        if self.connection.vendor != "postgresql" or not spec or spec.get("migrate") != "once":
            started = time.time()
            name = original(self, verbosity=verbosity, autoclobber=autoclobber, serialize=serialize, keepdb=keepdb)
            _record(f"migrate {name}", started)
            return name
        return clone_from_template(self, original, verbosity, serialize)

    create_test_db._xtask = True
    BaseDatabaseCreation.create_test_db = create_test_db
    destroy = BaseDatabaseCreation.destroy_test_db

    def destroy_test_db(self, old_database_name=None, verbosity=1, keepdb=False, suffix=None):
        # The run drops its test databases itself, all at once at its end (or its private server goes
        # with them): a worker need not wait for its own DROP DATABASE.
        return destroy(self, old_database_name, verbosity, keepdb=True, suffix=suffix)

    BaseDatabaseCreation.destroy_test_db = destroy_test_db


def main(argv):
    """`python -m xtask_runner.db.templates clone NAME`: NAME becomes a clone of the template."""
    if len(argv) != 2 or argv[0] != "clone":
        print("usage: python -m xtask_runner.db.templates clone NAME", file=sys.stderr)
        return 2
    import django
    from django.conf import settings
    from django.db import connections

    django.setup()
    spec = load_spec()
    if spec is None:
        print("xtask_runner.db.templates: XTASK_DB_SPEC is not set (run through cargo xtask)", file=sys.stderr)
        return 2
    isolate(settings, spec)
    install()
    connection = connections["default"]
    connection.settings_dict.setdefault("TEST", {})["NAME"] = argv[1]
    try:
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    except DatabaseUnreachable as error:
        print(f"xtask: {error}", file=sys.stderr)
        return 3
    connection.close()
    events = ENV.get("EVENTS")
    if events:
        with open(events, "a", encoding="utf-8") as handle:
            for span_name, start, stop in spans:
                handle.write(line("span", lane="e2e set-up", name=span_name, start=start, stop=stop) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
