"""The content key of a migrated template for `cargo xtask` (`db.templates`), shipped beside its
pytest plugin: a hash of what `migrate` makes a test database from. The migration files and the
project modules they import, the models of apps without migrations, the settings' values (but those
the xtask sets per run and those Django's test environment changes), the installed distributions, the
server's version, the alias and its engine, options and TEST settings.
"""
import hashlib
import importlib.util
import json
import os
import re
import sys
from pathlib import Path

from xtask_runner.contract import ENV
from xtask_runner.db.isolation import CONNECTION_OPTIONS

FORMAT = "xtask-template-2"
_ADDRESS = re.compile(r" at 0x[0-9a-f]+")
# Settings the xtask sets per run, and those Django's test environment changes in a test process (so
# that the xdist controller and its workers compute one key).
_NOT_KEYED = {
    "DATABASES", "MEDIA_ROOT", "FILE_UPLOAD_TEMP_DIR", "STATIC_ROOT", "ALLOWED_HOSTS", "EMAIL_BACKEND", "DEBUG",
}  # fmt: skip
_IMPORT = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import|import\s+([\w.]+))", re.MULTILINE)
_key_parts = None


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
    # A setting assigned at run time is listed twice by dir() (on the wrapper and the settings).
    for name in sorted(set(dir(settings))):
        if not name.isupper() or name in _NOT_KEYED:
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


def relative(text, root):
    """`text` with the repository's root written `<root>`: the same content in another checkout (a
    clone, a worktree) makes the same key, and shares its template on one server."""
    return text.replace(str(root), "<root>") if root else text


def template_key(connection, server_version, root=None):
    """What `migrate` makes the alias's test database from, hashed; paths below `root` (the
    repository's) count relative to it."""
    global _key_parts
    from django.apps import apps
    from django.conf import settings
    from django.db.migrations.loader import MigrationLoader

    if _key_parts is None:
        volatile = [ENV.get("RUN_ID"), ENV.get("MEDIA_BASE"), os.environ.get("TMPDIR")]
        if "PYTEST_XDIST_WORKER" in os.environ:
            volatile.append(f"_{os.environ['PYTEST_XDIST_WORKER']}")
        files = _files_of_migrations(apps, MigrationLoader)
        _key_parts = [
            FORMAT,
            relative(_settings_values(settings, volatile), root),
            "\n".join(_distributions()),
            *(_digest(relative(str(path), root), path.read_bytes()) for path in files),
        ]
    db = connection.settings_dict
    schema = {
        "ENGINE": db.get("ENGINE"),
        "OPTIONS": {k: repr(v) for k, v in (db.get("OPTIONS") or {}).items() if k not in CONNECTION_OPTIONS},
        "TEST": {k: repr(v) for k, v in (db.get("TEST") or {}).items() if k not in {"NAME", "MIRROR"}},
    }
    return _digest(connection.alias, server_version, json.dumps(schema, sort_keys=True), *_key_parts)
