"""What `cargo xtask`'s pytest plugin (`plugin`) tells of a session beyond its tests: the project as
`cargo xtask init` sees it (its markers and the tests each selects, its settings and engines), and
what a session leaves running as it ends (which would keep its process from exiting), and why it
stopped early when it did.
"""
import json
import os
import sys
import threading


def engines():
    """The database engines of the Django settings, once Django is set up (never set up here)."""
    conf = sys.modules.get("django.conf")
    try:
        if conf is None or not conf.settings.configured:
            return None
        return sorted({str(db.get("ENGINE", "")) for db in conf.settings.DATABASES.values()})
    except Exception:
        return None


def describe_project(session, out):
    """`cargo xtask init`: the registered markers with the tests each selects, the settings, engines."""
    registered = []
    for line in session.config.getini("markers"):
        name = line.split(":", 1)[0].split("(", 1)[0].strip()
        if name and name not in registered:
            registered.append(name)
    counts = {}
    for item in session.items:
        for name in {mark.name for mark in item.iter_markers()}:
            counts[name] = counts.get(name, 0) + 1
    conf = sys.modules.get("django.conf")
    settings_module = None
    if conf is not None and conf.settings.configured:
        settings_module = getattr(conf.settings, "SETTINGS_MODULE", None)
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(
            {
                "total": len(session.items),
                "ids": [item.nodeid for item in session.items],
                "registered": registered,
                "counts": counts,
                "engines": engines(),
                "settings_module": settings_module,
            },
            handle,
        )


def lingering():
    """Threads that are not daemons (a test started and never joined them) and child processes still
    running: Python waits for the first at exit, and the second keep the session's output open."""
    left = [
        f"thread {thread.name!r}"
        for thread in threading.enumerate()
        if thread.is_alive() and not thread.daemon and thread is not threading.main_thread()
    ]
    own = str(os.getpid())
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                fields = handle.read().rsplit(") ", 1)[1].split()
            if fields[1] != own or fields[0] == "Z":
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, IndexError):
            continue
        left.append(f"process {entry} ({command[:80]})")
    return left


def stopped(session, exit_reasons):
    """Why the session stopped before running every test, when it did: `-x`/`--maxfail`, or
    `pytest.exit()` (its reasons, `exit_reasons`, in this process; or in a worker, as xdist reports it)."""
    if exit_reasons:
        return f"pytest.exit() stopped the session: {exit_reasons[0]}"
    reason = session.shouldfail or session.shouldstop
    dsession = session.config.pluginmanager.get_plugin("dsession")
    reason = reason or getattr(dsession, "shouldstop", None)
    if not reason:
        return None
    maxfail = getattr(session.config.option, "maxfail", 0)
    if maxfail and "stopping after" in str(reason):
        return "stopped after the first failure (-x)" if maxfail == 1 else f"stopped after {maxfail} failures (--maxfail)"
    return str(reason) if isinstance(reason, str) else None
