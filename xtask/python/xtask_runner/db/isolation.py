"""Isolation of a Django project's settings for `cargo xtask`, shipped beside its pytest plugin
(`plugin`): with `isolation = "xtask"` (the default), every PostgreSQL alias points at
the run's server, whatever host, port and credentials the settings name, and gets a test database name
unique per run (XTASK_TEST_DATABASE; pytest-django appends `_gwN` per worker); `MEDIA_ROOT` (and
`FILE_UPLOAD_TEMP_DIR`, and a `STATIC_ROOT` that does not exist yet) point into the worker's private
media directory. `isolation = "project"` leaves the settings alone.
"""
import hashlib
import os
import re
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from xtask_runner.contract import ENV, read_spec

# Options that say where and how to connect: the run's server decides those.
CONNECTION_OPTIONS = {
    "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "service", "sslmode",
    "sslrootcert", "sslcert", "sslkey", "sslcrl", "target_session_attrs",
}  # fmt: skip
_spec = None


def load_spec():
    """The run's database section (XTASK_DB_SPEC), or None outside the xtask."""
    global _spec
    if _spec is None:
        path = ENV.get("DB_SPEC")
        if not path:
            return None
        _spec = read_spec("database", path)
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


# What a URL's query may say of the connection besides where it goes: kept on the tests' connections,
# as libpq takes them (`?sslmode=require`), never dropped.
_WHERE = {"host", "hostaddr", "port", "dbname", "user", "password"}


def url_options(url):
    """The connection options of the run's server URL (sslmode, sslrootcert, ...), for OPTIONS."""
    query = {key: values[-1] for key, values in parse_qs(urlsplit(url).query).items()}
    return {key: value for key, value in query.items() if key not in _WHERE}


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
    url = ENV.get("DATABASE_URL")
    server = server_settings(url) if url else None
    for alias, db in settings.DATABASES.items():
        if server is None or not _is_postgresql(db) or db.get("_xtask_isolated"):
            continue
        before = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{db.get('NAME') or ''}"
        elsewhere = (db.get("HOST") or "", str(db.get("PORT") or "")) != (server["HOST"], server["PORT"])
        db.update(server)
        options = db.setdefault("OPTIONS", {})
        for option in list(options):
            if option in CONNECTION_OPTIONS:
                del options[option]
        # How the user asked to connect to the run's server (`?sslmode=require`) reaches every test.
        options.update(url_options(url))
        test = db.setdefault("TEST", {})
        if not test.get("MIRROR") and ENV.get("TEST_DATABASE"):
            test["NAME"] = test_name(ENV.get("TEST_DATABASE"), alias)
        db["_xtask_isolated"] = True
        if elsewhere:
            changed.append((alias, before))
    base = ENV.get("MEDIA_BASE")
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
