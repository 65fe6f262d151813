"""Test databases for `cargo xtask`, shipped beside its pytest plugin (`xtask_pytest_plugin`).

Isolation without edits (`isolation = "xtask"`, the default): every PostgreSQL alias of the Django
settings points at the run's server, whatever host, port and credentials the settings name, and gets
a test database name unique per run (pytest-django appends `_gwN` per worker); `MEDIA_ROOT` (and
`FILE_UPLOAD_TEMP_DIR`, and a `STATIC_ROOT` that does not exist yet) point into the worker's private
media directory. `isolation = "project"` leaves the settings alone.

Migrate once (`migrate = "once"`, the default): the first process that needs a test database builds
a migrated template, `xtask_tpl_<project>_<key>`, under a lock on the server; every process clones it
(`CREATE DATABASE ... TEMPLATE`, one at a time). The key hashes what `migrate` makes a database from:
the migration files and the project modules they import, the models of apps without migrations, the
settings' values, the server's version and the installed distributions. A template is built under a
test database's name and renamed only once complete, so a half-made one is never used; it is kept on
the server for later runs, and the older ones of a project (beyond the two used last) are dropped.

Also a command, for E2E set-ups: `python -m xtask_django_db clone NAME` clones the template (building
it when missing) into NAME, with the settings of DJANGO_SETTINGS_MODULE.
"""
import hashlib
import importlib.util
import json
import os
import re
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

FORMAT = "xtask-template-2"
# Options that say where and how to connect: the run's server decides those.
_CONNECTION_OPTIONS = {
    "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "service", "sslmode",
    "sslrootcert", "sslcert", "sslkey", "sslcrl", "target_session_attrs",
}  # fmt: skip
_ADDRESS = re.compile(r" at 0x[0-9a-f]+")
_IMPORT = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import|import\s+([\w.]+))", re.MULTILINE)

# Set-up spans recorded in this process ([name, start, stop]): the plugin books them as set-up, not
# as the duration of the test that happened to trigger them.
spans = []
_spec = None
_key_parts = None


def load_spec():
    """The run's database section (XTASK_DB_SPEC), or None outside the xtask."""
    global _spec
    if _spec is None:
        path = os.environ.get("XTASK_DB_SPEC")
        if not path:
            return None
        with open(path, encoding="utf-8") as handle:
            _spec = json.load(handle)
    return _spec


def server_settings(url):
    """The run's server (DATABASE_URL) as Django settings keys."""
    parts = urlsplit(url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    return {
        "HOST": query.pop("host", None) or unquote(parts.hostname or ""),
        "PORT": query.pop("port", None) or (str(parts.port) if parts.port else ""),
        "NAME": unquote(parts.path.lstrip("/")) or query.pop("dbname", None) or "postgres",
        "USER": unquote(parts.username or "") or query.pop("user", ""),
        "PASSWORD": unquote(parts.password or ""),
    }


def _is_postgresql(db):
    return "postg" in str(db.get("ENGINE", ""))


def _worker():
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def isolate(settings, spec):
    """Points the settings at the run's server and the worker's media dir; returns the aliases whose
    settings named another server, as (alias, what they named) pairs, for the run to say."""
    if spec.get("isolation") != "xtask":
        return []
    changed = []
    url = os.environ.get("DATABASE_URL")
    server = server_settings(url) if url else None
    for alias, db in settings.DATABASES.items():
        if server is None or not _is_postgresql(db) or db.get("_xtask_isolated"):
            continue
        before = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{db.get('NAME') or ''}"
        elsewhere = (db.get("HOST") or "", str(db.get("PORT") or "")) != (server["HOST"], server["PORT"])
        db.update(server)
        options = db.setdefault("OPTIONS", {})
        for option in list(options):
            if option in _CONNECTION_OPTIONS:
                del options[option]
        test = db.setdefault("TEST", {})
        if not test.get("MIRROR") and os.environ.get("XTASK_TEST_DATABASE"):
            test["NAME"] = test_name(os.environ["XTASK_TEST_DATABASE"], alias)
        db["_xtask_isolated"] = True
        if elsewhere:
            changed.append((alias, before))
    base = os.environ.get("XTASK_MEDIA_BASE")
    if base and not getattr(settings, "_xtask_media", False):
        media = Path(base) / _worker()
        media.mkdir(parents=True, exist_ok=True)
        settings.MEDIA_ROOT = str(media)
        if getattr(settings, "FILE_UPLOAD_TEMP_DIR", None):
            (media / ".uploads").mkdir(exist_ok=True)
            settings.FILE_UPLOAD_TEMP_DIR = str(media / ".uploads")
        static = getattr(settings, "STATIC_ROOT", None)
        if static and not Path(static).exists():
            # Nothing collected there yet: whatever a test collects would land in a shared place.
            settings.STATIC_ROOT = str(media / ".static")
        settings._xtask_media = True
    return changed


def test_name(base, alias):
    """The test database of an alias: the run's base name, plus the alias for any but `default`."""
    if alias == "default":
        return base
    suffix = re.sub(r"[^a-z0-9_]", "_", alias.lower())
    name = f"{base}_{suffix}"
    # pytest-django appends `_gwN`: leave room for it within PostgreSQL's 63 bytes.
    if len(name) > 56:
        name = f"{base}_{hashlib.sha1(alias.encode()).hexdigest()[:4]}"
    return name


# --- the template ---------------------------------------------------------------------------------


def _digest(*parts):
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part if isinstance(part, bytes) else str(part).encode())
        hasher.update(b"\0")
    return hasher.hexdigest()


def _project_file(module):
    """The source file of a module of the project (not of an installed distribution), if any."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    origin = getattr(spec, "origin", None) if spec else None
    if not origin or not origin.endswith(".py") or "site-packages" in origin or "dist-packages" in origin:
        return None
    return Path(origin)


def _package_files(module):
    """The .py files of a package (or the file of a module), sorted."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    if spec.submodule_search_locations:
        return sorted(f for location in spec.submodule_search_locations for f in Path(location).rglob("*.py"))
    return [Path(spec.origin)] if spec.origin and spec.origin.endswith(".py") else []


def _files_of_migrations(apps, loader_class):
    """Every file that decides what `migrate` makes: the migration files and the project modules they
    import, and for an app without migrations the module of its models."""
    files = []
    for config in apps.get_app_configs():
        module, _ = loader_class.migrations_module(config.label)
        migrations = _package_files(module) if module else []
        if migrations:
            files.extend(migrations)
            for path in migrations:
                for match in _IMPORT.finditer(path.read_text(encoding="utf-8", errors="replace")):
                    imported = _project_file(match.group(1) or match.group(2))
                    if imported is not None:
                        files.append(imported)
        elif config.models_module is not None:
            files.extend(_package_files(config.models_module.__name__))
    return sorted(set(files))


def _settings_values(settings, volatile):
    """Every setting but the ones the xtask sets per run, as text."""
    lines = []
    for name in sorted(dir(settings)):
        if not name.isupper() or name in {"DATABASES", "MEDIA_ROOT", "FILE_UPLOAD_TEMP_DIR", "STATIC_ROOT"}:
            continue
        try:
            text = _ADDRESS.sub("", repr(getattr(settings, name)))
        except Exception:  # noqa: BLE001 - a setting whose repr fails says nothing of the schema
            continue
        if any(word and word in text for word in volatile):
            continue
        lines.append(f"{name}={text}")
    return "\n".join(lines)


def _distributions():
    """The installed distributions' names and versions, from their metadata directories."""
    found = []
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        found.extend(name for name in names if name.endswith((".dist-info", ".egg-info")))
    return sorted(found)


def template_key(connection, server_version):
    """What `migrate` makes the alias's test database from, hashed."""
    global _key_parts
    from django.apps import apps
    from django.conf import settings
    from django.db.migrations.loader import MigrationLoader

    if _key_parts is None:
        volatile = [os.environ.get("XTASK_RUN_ID"), os.environ.get("XTASK_MEDIA_BASE"), os.environ.get("TMPDIR")]
        if "PYTEST_XDIST_WORKER" in os.environ:
            volatile.append(f"_{os.environ['PYTEST_XDIST_WORKER']}")
        files = _files_of_migrations(apps, MigrationLoader)
        _key_parts = [
            FORMAT,
            _settings_values(settings, volatile),
            "\n".join(_distributions()),
            *(_digest(str(path), path.read_bytes()) for path in files),
        ]
    db = connection.settings_dict
    schema = {
        "ENGINE": db.get("ENGINE"),
        "OPTIONS": {k: repr(v) for k, v in (db.get("OPTIONS") or {}).items() if k not in _CONNECTION_OPTIONS},
        "TEST": {k: repr(v) for k, v in (db.get("TEST") or {}).items() if k not in {"NAME", "MIRROR"}},
    }
    return _digest(connection.alias, server_version, json.dumps(schema, sort_keys=True), *_key_parts)


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


def clone_from_template(creation, original, verbosity, serialize):
    """`create_test_db` by cloning the alias's template (built first when missing)."""
    from django.conf import settings

    spec = load_spec()
    connection = creation.connection
    alias = connection.alias
    name = creation._get_test_db_name()
    project = spec["project"]
    try:
        cursor_context = creation._nodb_cursor()
        cursor = cursor_context.__enter__()
    except Exception as error:  # noqa: BLE001 - the driver's own error class varies
        raise DatabaseUnreachable(unreachable(connection.settings_dict, error)) from error
    try:
        cursor.execute("SHOW server_version_num")
        server_version = cursor.fetchone()[0]
        template = template_name(project, template_key(connection, server_version))
        cursor.execute("SELECT pg_advisory_lock(%s)", [_lock_id(project)])
        try:
            known = _templates(cursor, project)
            fresh = spec.get("fresh") and known.get(template, {}).get("run") != spec.get("run")
            if template not in known or fresh:
                _build(creation, original, cursor, template, known, name, verbosity, fresh)
            build_done = time.time()
            cursor.execute(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")
            _note_created(name)
            cursor.execute(f"CREATE DATABASE {_quote(name)} TEMPLATE {_quote(template)}")
            fields = _fields_of(cursor, template)
            fields["used"] = int(time.time())
            try:
                _comment(cursor, template, fields)
            except Exception:  # noqa: BLE001 - another role's template: its use is not recorded
                pass
            spans.append([f"clone {template} as {name}", build_done, time.time()])
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_lock_id(project)])
    finally:
        cursor_context.__exit__(None, None, None)
    connection.close()
    settings.DATABASES[alias]["NAME"] = name
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

    original = BaseDatabaseCreation.create_test_db
    if getattr(original, "_xtask", False):
        return

    def create_test_db(self, verbosity=1, autoclobber=False, serialize=True, keepdb=False):
        spec = load_spec()
        if self.connection.vendor != "postgresql" or not spec or spec.get("migrate") != "once":
            started = time.time()
            name = original(self, verbosity=verbosity, autoclobber=autoclobber, serialize=serialize, keepdb=keepdb)
            _record(f"migrate {name}", started)
            return name
        return clone_from_template(self, original, verbosity, serialize)

    create_test_db._xtask = True
    BaseDatabaseCreation.create_test_db = create_test_db


def main(argv):
    """`python -m xtask_django_db clone NAME`: NAME becomes a clone of the template."""
    if len(argv) != 2 or argv[0] != "clone":
        print("usage: python -m xtask_django_db clone NAME", file=sys.stderr)
        return 2
    import django
    from django.conf import settings
    from django.db import connections

    django.setup()
    spec = load_spec()
    if spec is None:
        print("xtask_django_db: XTASK_DB_SPEC is not set (run through cargo xtask)", file=sys.stderr)
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
    events = os.environ.get("XTASK_EVENTS")
    if events:
        with open(events, "a", encoding="utf-8") as handle:
            for span_name, start, stop in spans:
                line = {"event": "span", "lane": "e2e set-up", "name": span_name, "start": start, "stop": stop}
                handle.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
