"""The Django settings every generated benchmark project has: its database from DATABASE_URL (the
benchmark's one server, for every contender), its test database named per run and session, so that
`--reuse-db` can keep one and two runs never meet. With BENCH_SQLITE set, SQLite instead."""

TEMPLATE = '''import os
from urllib.parse import parse_qs, urlsplit
%(preamble)s
_url = urlsplit(os.environ.get("DATABASE_URL", "postgresql://postgres@localhost/postgres"))
_query = {k: v[-1] for k, v in parse_qs(_url.query).items()}
SECRET_KEY = "bench"
INSTALLED_APPS = %(apps)s
USE_TZ = True
_name = f"test_%(prefix)s_{os.environ.get('XTASK_RUN_ID', 'local')}_{os.environ.get('XTASK_SUITE', 'all')}"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _url.path.lstrip("/") or "postgres",
        "USER": _url.username or "",
        "PASSWORD": _url.password or "",
        "HOST": _query.get("host", _url.hostname or ""),
        "PORT": _query.get("port", str(_url.port or "")),
        "TEST": {"NAME": _name},
    }
}
if os.environ.get("BENCH_SQLITE"):
    # The same project on SQLite, its test database in memory (pytest-django's default).
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "bench.sqlite3"}}
'''


def settings(prefix, apps, preamble=""):
    """The settings module's text: `apps` is INSTALLED_APPS as Python source; `preamble`, lines
    after the imports (a start-up every process pays)."""
    return TEMPLATE % {"prefix": prefix, "apps": apps, "preamble": f"\n{preamble}\n" if preamble else ""}
