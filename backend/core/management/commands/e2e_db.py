"""Creates, clones and drops the databases of E2E backends on the server of DATABASE_URL.

    python manage.py e2e_db create test_viatique_ab12cd34_e2e_tpl
    python manage.py e2e_db clone test_viatique_ab12cd34_e2e_tpl test_viatique_ab12cd34_e2e_p0
    python manage.py e2e_db drop test_viatique_ab12cd34_e2e_p0
"""
import re

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

NAME = re.compile(r"^[a-z0-9_]{1,63}$")


def checked(name: str) -> str:
    if not NAME.match(name):
        raise CommandError(f"database name {name!r} must be 1-63 characters of a-z, 0-9 and _")
    return name


def maintenance_connection():
    db = settings.DATABASES["default"]
    params = {"dbname": "postgres", "user": db["USER"] or None, "password": db["PASSWORD"] or None,
              "host": db["HOST"] or None, "port": db["PORT"] or None, "autocommit": True}
    return psycopg.connect(**{key: value for key, value in params.items() if value is not None})


class Command(BaseCommand):
    help = "Create, clone or drop an E2E database."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["create", "clone", "drop"])
        parser.add_argument("names", nargs="+")

    def handle(self, *args, action, names, **options):
        names = [checked(name) for name in names]
        with maintenance_connection() as connection:
            if action == "create":
                connection.execute(f'DROP DATABASE IF EXISTS "{names[0]}" WITH (FORCE)')
                connection.execute(f'CREATE DATABASE "{names[0]}"')
            elif action == "clone":
                if len(names) != 2:
                    raise CommandError("clone needs the template and the new database")
                template, target = names
                connection.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
                connection.execute(f'CREATE DATABASE "{target}" TEMPLATE "{template}"')
            else:
                for name in names:
                    connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
