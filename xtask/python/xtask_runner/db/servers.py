"""The databases of a Django server `cargo xtask` starts for a Playwright suite (`[[suite.server]]`):
the server's settings are wrapped (`xtask_runner.server_settings`) so that it serves this run's
databases and media, each a copy of a template into which the server's set-up commands (migrate,
seed) ran once. The template is kept between runs, keyed by what makes it: every alias's migrations
key (`db.key`), the set-up commands, the files they name, the server's environment. PostgreSQL
aliases get databases on the run's server (`xtask_tpl_<project>_<key>`, cloned with `CREATE
DATABASE ... TEMPLATE`); SQLite aliases files under the kept templates' directory, copied. The media
the set-up wrote are kept beside the template and copied per instance.

`python -m xtask_runner.db.servers SPEC`: SPEC is the server's spec as the xtask wrote it
(`contract.read_spec("server", ...)`); the file its `result` names then says what each instance got.
`python -m xtask_runner.db.servers reset SPEC INDEX` puts an instance back as the template has it.
"""
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from xtask_runner.contract import ENV, read_spec
from xtask_runner.db import isolation, templates
from xtask_runner.db.key import relative, template_key

FORMAT = "xtask-server-1"


class SetupFailed(Exception):
    """A set-up command of the server failed: the message quotes its log."""


def _is_postgresql(db):
    return "postg" in str(db.get("ENGINE", ""))


def _overrides(alias, db, name, url, sqlite_dir):
    """The settings an alias gets: this run's server and a database of its own, or a file of its own."""
    if _is_postgresql(db):
        server = isolation.server_settings(url)
        options = {k: v for k, v in (db.get("OPTIONS") or {}).items() if k not in isolation.CONNECTION_OPTIONS}
        options.update(isolation.url_options(url))
        return {**server, "NAME": isolation.test_name(name, alias), "OPTIONS": options}
    return {"NAME": str(Path(sqlite_dir) / f"{alias}.sqlite3")}


def _named_files(spec):
    """The files the set-up commands name (a seed script, a fixture), read: part of the key."""
    found = []
    for step in spec.setup:
        for word in step[1:]:
            path = Path(spec.dir) / word
            if path.is_file():
                found.append((word, path.read_bytes()))
    return found


def _server_version(connection):
    if connection.vendor == "sqlite":
        return sqlite3.sqlite_version
    with connection.creation._nodb_cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        return cursor.fetchone()[0]


def key_of(spec, connections):
    """The template's key: what the set-up commands make a database and media from."""
    parts = [FORMAT, *(relative(json.dumps(part), spec.root) for part in (spec.setup, sorted(spec.env.items())))]
    for alias in sorted(connections):
        connection = connections[alias]
        parts.append(template_key(connection, _server_version(connection), spec.root))
    for word, content in _named_files(spec):
        parts.append(word)
        parts.append(hashlib.sha256(content).hexdigest())
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _run_setup(spec, env, log):
    """Runs the set-up commands in order, into the databases `env` names; fails quoting the log."""
    with open(log, "a", encoding="utf-8") as out:
        for step in spec.setup:
            out.write(f"$ {' '.join(step)}\n")
            out.flush()
            done = subprocess.run(step, cwd=spec.dir, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
            if done.returncode != 0:
                out.flush()
                tail = Path(log).read_text(encoding="utf-8", errors="replace").strip().splitlines()[-8:]
                raise SetupFailed(
                    f"`{' '.join(step)}` failed ({done.returncode}) in {spec.dir}; its last lines:\n  " + "\n  ".join(tail)
                )


def _wrapped_env(spec, databases, media):
    env = dict(os.environ)
    env.update({key: value for key, value in spec.env.items()})
    env["DJANGO_SETTINGS_MODULE"] = "xtask_runner.server_settings"
    env[ENV.SERVER_SETTINGS] = spec.settings
    env[ENV.SERVER_DATABASES] = json.dumps(databases)
    env[ENV.SERVER_MEDIA] = str(media)
    return env


class Templates:
    """The server's kept templates: a directory per key (SQLite files, media), PostgreSQL databases."""

    def __init__(self, spec, key, connections, url):
        self.spec, self.key, self.connections, self.url = spec, key, connections, url
        self.dir = Path(spec.templates_dir) / key[:16]
        self.name = templates.template_name(spec.project, key)

    def pg_aliases(self):
        return [alias for alias, connection in self.connections.items() if connection.vendor == "postgresql"]

    def databases_for(self, name, sqlite_dir):
        return {
            alias: _overrides(alias, connection.settings_dict, name, self.url, sqlite_dir)
            for alias, connection in self.connections.items()
        }

    def complete(self, cursor):
        if not (self.dir / "complete").exists():
            return False
        if cursor is None:
            return True
        wanted = [isolation.test_name(self.name, alias) for alias in self.pg_aliases()]
        cursor.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s)", [wanted])
        return len(cursor.fetchall()) == len(wanted)

    def build(self, cursor, log):
        """Runs the set-up into databases built under the spec's names, then makes them the template."""
        building = Path(str(self.dir) + ".build")
        shutil.rmtree(building, ignore_errors=True)
        shutil.rmtree(self.dir, ignore_errors=True)
        (building / "media").mkdir(parents=True)
        pg = self.pg_aliases()
        for alias in pg:
            name = isolation.test_name(self.spec.building, alias)
            _note_created(self.spec, name)
            cursor.execute(f"DROP DATABASE IF EXISTS {templates._quote(name)} WITH (FORCE)")
            cursor.execute(f"CREATE DATABASE {templates._quote(name)}")
        databases = self.databases_for(self.spec.building, building)
        _run_setup(self.spec, _wrapped_env(self.spec, databases, building / "media"), log)
        for alias in pg:
            name, template = isolation.test_name(self.spec.building, alias), isolation.test_name(self.name, alias)
            cursor.execute(f"DROP DATABASE IF EXISTS {templates._quote(template)} WITH (FORCE)")
            cursor.execute(f"ALTER DATABASE {templates._quote(name)} RENAME TO {templates._quote(template)}")
            cursor.execute(f"ALTER DATABASE {templates._quote(template)} WITH ALLOW_CONNECTIONS false")
            fields = {"project": self.spec.project, "alias": alias, "settings": "server:" + self.spec.server}
            fields.update(run=self.spec.run, built=int(time.time()), used=int(time.time()))
            templates._comment(cursor, template, fields)
        (building / "complete").write_text(self.key)
        os.replace(building, self.dir)
        if pg:
            # The private server's cluster is kept for the next run once a template was built in it.
            with open(self.spec.built_file, "a", encoding="utf-8") as handle:
                handle.write(self.name + "\n")

    def clone(self, cursor, instance):
        """One instance's databases and media, copied from the template."""
        sqlite_dir = Path(instance["sqlite_dir"])
        sqlite_dir.mkdir(parents=True, exist_ok=True)
        databases = self.databases_for(instance["database"], sqlite_dir)
        for alias, connection in self.connections.items():
            if connection.vendor == "postgresql":
                name, template = databases[alias]["NAME"], isolation.test_name(self.name, alias)
                _note_created(self.spec, name)
                cursor.execute(f"DROP DATABASE IF EXISTS {templates._quote(name)} WITH (FORCE)")
                strategy = " STRATEGY FILE_COPY" if self.spec.private else ""
                cursor.execute(f"CREATE DATABASE {templates._quote(name)} TEMPLATE {templates._quote(template)}{strategy}")
            elif (self.dir / f"{alias}.sqlite3").exists():
                shutil.copyfile(self.dir / f"{alias}.sqlite3", databases[alias]["NAME"])
        shutil.copytree(self.dir / "media", instance["media"], dirs_exist_ok=True)
        return databases

    def prune(self):
        """Of this server's templates, the two used last are kept; older directories go."""
        root = Path(self.spec.templates_dir)
        kept = sorted((p for p in root.iterdir() if p.is_dir() and (p / "server").exists()), key=lambda p: p.stat().st_mtime)
        (self.dir / "server").write_text(self.spec.server)
        os.utime(self.dir)
        for old in kept[:-2]:
            if old != self.dir and (old / "server").read_text() == self.spec.server:
                shutil.rmtree(old, ignore_errors=True)


def _note_created(spec, name):
    with open(spec.names_file, "a", encoding="utf-8") as handle:
        handle.write(name + "\n")


def prepare(spec):
    """The template (built when missing or `--fresh-db`), and each instance's copy of it."""
    import django
    from django.db import connections

    url = ENV.get("DATABASE_URL") or ""
    os.environ["DJANGO_SETTINGS_MODULE"] = "xtask_runner.server_settings"
    os.environ[ENV.SERVER_SETTINGS] = spec.settings
    probe = {}
    django.setup()
    from django.conf import settings

    for alias, db in settings.DATABASES.items():
        probe[alias] = _overrides(alias, db, spec.building, url, Path(spec.templates_dir) / "probe")
        db.update(probe[alias])
    started = time.time()
    key = key_of(spec, {alias: connections[alias] for alias in settings.DATABASES})
    kept = Templates(spec, key, {alias: connections[alias] for alias in settings.DATABASES}, url)
    Path(spec.templates_dir).mkdir(parents=True, exist_ok=True)
    lock = open(Path(spec.templates_dir) / f"{spec.server}.lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    spans, hit = [], True
    with _cursor(kept) as cursor:
        if cursor is not None:
            cursor.execute("SELECT pg_advisory_lock(%s)", [templates._lock_id(spec.project)])
        for connection in connections.all():
            connection.close()
        if spec.fresh or not kept.complete(cursor):
            hit = False
            kept.build(cursor, spec.log)
            spans.append([f"{spec.server}: set-up into the template {kept.name}", started, time.time()])
        else:
            spans.append([f"{spec.server}: template {kept.name} kept from an earlier run", started, time.time()])
        kept.prune()
        instances = []
        for instance in spec.instances:
            began = time.time()
            instances.append({"databases": kept.clone(cursor, instance), "media": instance["media"]})
            spans.append([f"{spec.server}: copy for {instance['database']}", began, time.time()])
    return {"hit": hit, "template": kept.name, "template_dir": str(kept.dir), "instances": instances, "spans": spans}


class _cursor:
    """A cursor on the run's PostgreSQL server when the server has a PostgreSQL alias, else None."""

    def __init__(self, kept):
        self.kept, self.context = kept, None

    def __enter__(self):
        aliases = self.kept.pg_aliases()
        if not aliases:
            return None
        creation = self.kept.connections[aliases[0]].creation
        try:
            self.context = creation._nodb_cursor()
            return self.context.__enter__()
        except Exception as error:  # noqa: BLE001 - the driver's own error class varies
            raise SetupFailed(templates.unreachable(creation.connection.settings_dict, error)) from error

    def __exit__(self, *exc):
        if self.context is not None:
            self.context.__exit__(*exc)


def reset(spec, index):
    """Puts one instance's databases and media back as the template has them (a test that wiped its
    worker's data calls it: `python -m xtask_runner.db.servers reset SPEC INDEX`)."""
    import django
    from django.db import connections

    done = json.loads(Path(spec.result).read_text(encoding="utf-8"))
    instance = done["instances"][index]
    os.environ["DJANGO_SETTINGS_MODULE"] = "xtask_runner.server_settings"
    os.environ[ENV.SERVER_SETTINGS] = spec.settings
    os.environ[ENV.SERVER_DATABASES] = json.dumps(instance["databases"])
    django.setup()
    template_dir = Path(done["template_dir"])
    for alias, db in instance["databases"].items():
        connection = connections[alias]
        if connection.vendor == "postgresql":
            template = isolation.test_name(done["template"], alias)
            with connection.creation._nodb_cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {templates._quote(db['NAME'])} WITH (FORCE)")
                cursor.execute(f"CREATE DATABASE {templates._quote(db['NAME'])} TEMPLATE {templates._quote(template)}")
        elif (template_dir / f"{alias}.sqlite3").exists():
            # A new file put in place: a connection the server holds keeps the old one until it closes.
            connection.close()
            copy = f"{db['NAME']}.reset"
            shutil.copyfile(template_dir / f"{alias}.sqlite3", copy)
            os.replace(copy, db["NAME"])
    shutil.rmtree(instance["media"], ignore_errors=True)
    shutil.copytree(template_dir / "media", instance["media"])


def main(argv):
    if len(argv) == 3 and argv[0] == "reset":
        reset(read_spec("server", argv[1]), int(argv[2]))
        return 0
    if len(argv) != 1:
        print("usage: python -m xtask_runner.db.servers SPEC | reset SPEC INDEX", file=sys.stderr)
        return 2
    spec = read_spec("server", argv[0])
    try:
        result = prepare(spec)
    except SetupFailed as error:
        print(f"xtask: server `{spec.server}`: {error}", file=sys.stderr)
        return 3
    Path(spec.result).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
