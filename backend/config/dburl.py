"""Turns a `DATABASE_URL` into a Django `DATABASES` entry.

Written here rather than pulled from a package because the backend only needs PostgreSQL URLs, including
the Unix-socket form the xtask uses for its private server: `postgresql://user@/db?host=/path/to/dir`.
"""
from urllib.parse import parse_qs, unquote, urlsplit

SCHEMES = {"postgres", "postgresql", "pgsql"}


class DatabaseUrlError(ValueError):
    """The URL cannot describe a PostgreSQL database."""


def parse_database_url(url: str) -> dict:
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise DatabaseUrlError(
            f"DATABASE_URL must start with postgresql://, got {parts.scheme or 'no scheme'!r}"
        )
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    host = query.pop("host", None) or unquote(parts.hostname or "")
    port = query.pop("port", None) or (str(parts.port) if parts.port else "")
    name = unquote(parts.path.lstrip("/")) or query.pop("dbname", "") or "postgres"
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or "") or query.pop("user", ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": port,
        "OPTIONS": query,
    }
