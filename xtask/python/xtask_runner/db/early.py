"""The xdist controller's share of `cargo xtask`'s test databases (`db.templates`), shipped beside its
pytest plugin: while the workers start and collect, it builds the templates and clones them for
every worker under the names pytest-django will ask for, marked for this run; a worker that finds
its clone adopts it (`templates._take_ahead`), so that its first test starts when its collection
ends.
"""
import os
import time

from xtask_runner.contract import ENV
from xtask_runner.db import templates
from xtask_runner.db.isolation import load_spec
from xtask_runner.db.templates import _build, _clone, _fields, _quote, _under_lock, spans


def _preclone(cursor, template, name, server_version, spec):
    """The controller's clone for a worker: made only where nothing by that name exists (a worker
    that got the lock first made its own and may be using it), and marked for this run. A clone the
    xtask made ahead of another template (its guess of the template gone stale) is made again."""
    cursor.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [name])
    row = cursor.fetchone()
    if row:
        fields = _fields(row[0])
        if fields.get("preclone") in (None, template) or fields.get("run") != str(spec.get("run")):
            return
        cursor.execute(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")
    started = time.time()
    _clone(cursor, template, name, server_version, spec)
    mark = f"xtask clone for a worker: preclone={template} run={spec.get('run')}"
    cursor.execute(f"COMMENT ON DATABASE {_quote(name)} IS %s", [mark])
    spans.append([f"clone {template} as {name}", started, time.time()])


def _worker_name(db, alias_test, suffix):
    """pytest-django's name for a process's test database of an alias: its TEST NAME (the isolation's
    per-run name), else `test_` + NAME, then the xdist worker's suffix (`_gw0`; none without xdist)."""
    return f"{alias_test or 'test_' + str(db.get('NAME'))}{suffix}"


def _early_aliases(connections):
    """The aliases whose test databases the controller prepares: PostgreSQL ones that are not mirrors,
    `default` first (the one every project's tests use)."""
    aliases = []
    for alias in connections:
        connection = connections[alias]
        if connection.vendor != "postgresql" or (connection.settings_dict.get("TEST") or {}).get("MIRROR"):
            continue
        aliases.append(alias)
    return sorted(aliases, key=lambda alias: alias != "default")


def prepare_early(unblocked, emit, suffixes, names):
    """In the xdist controller while its workers start and collect (or on a thread of a process
    without xdist while it collects): waits for the run's server, then for every PostgreSQL alias
    builds its template (`default`'s when missing; another alias's only when a run before built it,
    since nothing tells whether this run's tests use it) and clones it for each process, by the
    suffix pytest-django gives its test databases (`_gw0`, ...; "" without xdist), so that no process
    waits for `migrate` or a clone after its collection. A failure here is left to the processes,
    which do it themselves; what was not prepared, and why, is a span of the `template` lane."""
    from django.db import connections

    aliases = _early_aliases(connections)
    if not aliases or not ENV.get("TEST_DATABASE") or templates._original is None:
        return
    ready = ENV.get("DB_READY")
    deadline = time.time() + 120
    while ready and not os.path.exists(ready):
        if time.time() > deadline:
            return
        time.sleep(0.02)
    # Each alias's settings as they were, restored at the end: the controller runs no test.
    saved = {}
    prepared = {}
    started = time.time()
    try:
        with unblocked():
            for alias in aliases:
                prepared[alias] = _early_template(connections[alias], alias, names, saved)
            # One clone per turn of the lock, worker by worker: a worker that is ready first is never
            # kept waiting for all of them.
            for suffix in suffixes:
                for alias in aliases:
                    if prepared.get(alias):
                        _early_clone(connections[alias], saved[alias], suffix)
    except Exception as error:  # noqa: BLE001 - the workers meet the same problem, and report it per test
        spans.append([f"no clones made ahead: {type(error).__name__}: {str(error).strip()[:200]}", started, time.time()])
    finally:
        from django.conf import settings

        for alias, (name, test_name) in saved.items():
            connection = connections[alias]
            connection.close()
            db = connection.settings_dict
            db["NAME"] = name
            db.setdefault("TEST", {})["NAME"] = test_name
            settings.DATABASES[alias]["NAME"] = name
    for name, start, stop in spans:
        emit("span", lane="template", name=name, start=start, stop=stop)
    spans.clear()


def _early_template(connection, alias, names, saved):
    """The alias's template, built when missing (`default` only); whether it is there to clone."""
    from xtask_runner.db.isolation import test_name

    db = connection.settings_dict
    test = db.setdefault("TEST", {})
    saved[alias] = (db.get("NAME"), test.get("NAME"))
    # Built under a name the run records and drops, renamed once complete.
    test["NAME"] = test_name(names.template_building, alias)
    there = []

    def build(cursor, template, server_version, known, fresh):
        if (template not in known or fresh) and alias == "default":
            _build(connection.creation, templates._original, cursor, template, known, test["NAME"], 0, fresh)
            known[template] = {}
        there.append(template in known and not (fresh and alias != "default"))

    _under_lock(connection.creation, build)
    return bool(there and there[0])


def _early_clone(connection, before, suffix):
    def then(cursor, template, server_version, known, fresh):
        name = _worker_name(connection.settings_dict, before[1], suffix)
        _preclone(cursor, template, name, server_version, load_spec())

    _under_lock(connection.creation, then)
