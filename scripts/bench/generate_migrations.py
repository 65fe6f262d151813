"""Writes a migration-heavy Django test project for the benchmark (not a test):
`python3 generate_migrations.py DIR [--shape migrations|sqlite500|aliases]`.

- `migrations` (default), the shape where the database set-up dominates a run: 24 apps with 7
  migrations each (168 in all: models created, fields added and altered, foreign keys across apps, a
  data migration per app), about 10 s to migrate on a 2-CPU machine, and 240 quick database tests in
  12 `TestCase` classes.
- `sqlite500`, the shape of a real SQLite project that was measured: 7 apps (49 migrations, about 2 s
  to migrate), 480 tests in 40 modules, each module about 60 ms to import (its dependencies) and each
  test about 30 ms of work; run with BENCH_SQLITE=1.
- `aliases`: the `migrations` project with a second PostgreSQL alias (`archive`) that half of the test
  classes use beside `default`.
PostgreSQL from DATABASE_URL; the test database's name from XTASK_RUN_ID, so that `--reuse-db` can keep
one.
"""
import sys
from pathlib import Path

from bench_settings import settings

SHAPES = {
    # apps, test classes, tests per class, ms to import a test module, ms of work per test, seed rows, aliases
    "migrations": (24, 12, 20, 0, 0, 20000, False),
    "sqlite500": (7, 40, 12, 60, 30, 2000, False),
    "aliases": (24, 12, 20, 0, 0, 20000, True),
}
SHAPE = sys.argv[sys.argv.index("--shape") + 1] if "--shape" in sys.argv else "migrations"
APPS, CLASSES, TESTS_PER_CLASS, IMPORT_MS, TEST_MS, SEED_ROWS, ALIASES = SHAPES[SHAPE]
MODELS = 10

SETTINGS = settings("migr", '["django.contrib.contenttypes", "django.contrib.auth"] + [f"app{n:02d}" for n in range(%d)]' % APPS)
if ALIASES:
    SETTINGS += """
if "archive" not in DATABASES and not os.environ.get("BENCH_SQLITE"):
    # A second database: the same server, its own name and test database.
    DATABASES["archive"] = {**DATABASES["default"], "TEST": {"NAME": _name + "_archive"}}
"""

BURN = '''import time


def burn(milliseconds):
    """Keeps one CPU busy for `milliseconds` of process time: a test's own work, or an import's."""
    end = time.process_time() + milliseconds / 1000
    while time.process_time() < end:
        pass
'''

XTASK_TOML = '''# The benchmark's migration-heavy project (scripts/bench/generate_migrations.py).
project = "migr"

[backend]
dir = "."
settings = "migrproj.settings"

[[suite]]
name = "records"
marker = "records"
max_workers = 8
'''

PYTEST_INI = '''[pytest]
addopts = --strict-markers -p no:cacheprovider
pythonpath = .
DJANGO_SETTINGS_MODULE = migrproj.settings
markers =
    records: database tests
'''

ID = 'models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")'


def migrations_of(app):
    """Seven migrations: three models, fields added and altered, a foreign key to the app before
    (with its dependency), and a data migration."""
    label = f"app{app:02d}"
    previous = f"app{app - 1:02d}" if app else None
    created = ",\n".join(
        f'        migrations.CreateModel(name="Thing{m}", fields=[("id", {ID}), '
        f'("name", models.CharField(max_length=50)), ("size", models.IntegerField(default=0))])'
        for m in range(MODELS)
    )
    files = {"0001_initial.py": f"    dependencies = []\n    operations = [\n{created},\n    ]\n"}
    for step in range(2, 6):
        ops = []
        for m in range(MODELS):
            ops.append(
                f'        migrations.AddField(model_name="thing{m}", name="extra{step}", '
                f'field=models.CharField(max_length=30, default="", blank=True))'
            )
            ops.append(
                f'        migrations.AlterField(model_name="thing{m}", name="size", '
                f"field=models.IntegerField(default={step}, db_index={step % 2 == 0}))"
            )
        depends = [f'("{label}", "{step - 1:04d}_step")' if step > 2 else f'("{label}", "0001_initial")']
        if step == 3 and previous:
            depends.append(f'("{previous}", "0003_step")')
            ops.append(
                f'        migrations.AddField(model_name="thing0", name="parent", '
                f'field=models.ForeignKey(null=True, on_delete=models.deletion.SET_NULL, to="{previous}.thing0"))'
            )
        if step in (2, 4):
            # A data migration midway: Django renders every model of the project to run it.
            ops.append("        migrations.RunPython(touch, migrations.RunPython.noop)")
        files[f"{step:04d}_step.py"] = (
            f"    dependencies = [{', '.join(depends)}]\n    operations = [\n" + ",\n".join(ops) + ",\n    ]\n"
        )
    files["0006_step.py"] = (
        f'    dependencies = [("{label}", "0005_step")]\n    operations = [\n'
        f'        migrations.AddIndex(model_name="thing1", index=models.Index(fields=["name", "size"], '
        f'name="{label}_t1_ns")),\n    ]\n'
    )
    files["0007_seed.py"] = (
        f'    dependencies = [("{label}", "0006_step")]\n'
        "    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]\n"
    )
    header = "from django.db import migrations, models\n\n\n"
    touch = (
        "def touch(apps, schema_editor):\n"
        # Through the alias being migrated, as a data migration must be for a project of several databases.
        f'    apps.get_model("{label}", "Thing0").objects.using(schema_editor.connection.alias)'
        ".filter(size__lt=0).update(size=0)\n\n\n"
    )
    seed = (
        "def seed(apps, schema_editor):\n"
        f'    Thing = apps.get_model("{label}", "Thing2")\n'
        '    Thing.objects.using(schema_editor.connection.alias).bulk_create('
        '[Thing(name=f"seed{n}", size=n) for n in range(200)])\n'
        "    # Reference data made and indexed by the server, as real data migrations do.\n"
        "    with schema_editor.connection.cursor() as cursor:\n"
        "        if schema_editor.connection.vendor == 'sqlite':\n"
        "            cursor.execute(\"WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < %(rows)d) \"\n"
        f'                           "INSERT INTO {label}_thing3 (name, size, extra2, extra3, extra4, extra5) "\n'
        "                           \"SELECT hex(randomblob(16)), n % 97, '', '', '', '' FROM s\")\n"
        "        else:\n"
        f'            cursor.execute("INSERT INTO {label}_thing3 (name, size, extra2, extra3, extra4, extra5) "\n'
        "                           \"SELECT md5(n::text), n % 97, '', '', '', '' FROM generate_series(1, %(rows)d) n\")\n"
        f'        cursor.execute("CREATE INDEX {label}_t3_name ON {label}_thing3 (name)")\n'
        f'        cursor.execute("DELETE FROM {label}_thing3")\n\n\n'
    )
    seed = seed.replace("%(rows)d", str(SEED_ROWS))
    out = {}
    for name, body in files.items():
        prefix = header + (seed if name == "0007_seed.py" else touch if name in ("0002_step.py", "0004_step.py") else "")
        out[name] = prefix + f"class Migration(migrations.Migration):\n{body}"
    return out


def models_of(app):
    previous = f"app{app - 1:02d}" if app else None
    lines = ["from django.db import models", "", ""]
    for m in range(MODELS):
        lines += [
            f"class Thing{m}(models.Model):",
            "    name = models.CharField(max_length=50)",
            "    size = models.IntegerField(default=5)",
        ]
        lines += [f'    extra{step} = models.CharField(max_length=30, default="", blank=True)' for step in range(2, 6)]
        if m == 0 and previous:
            lines.append(f'    parent = models.ForeignKey("{previous}.Thing0", null=True, on_delete=models.SET_NULL)')
        if m == 1:
            lines += ["", "    class Meta:", f'        indexes = [models.Index(fields=["name", "size"], name="app{app:02d}_t1_ns")]']
        lines += ["", ""]
    return "\n".join(lines).rstrip() + "\n"


def main():
    root = Path(sys.argv[1])
    files = {
        "xtask.toml": XTASK_TOML,
        "pytest.ini": PYTEST_INI,
        "requirements.txt": "# The benchmark runs with the reference backend's interpreter (XTASK_PYTHON).\n",
        "conftest.py": "",
        "migrproj/__init__.py": "",
        "migrproj/settings.py": SETTINGS,
        "tests/__init__.py": "",
    }
    for app in range(APPS):
        label = f"app{app:02d}"
        files[f"{label}/__init__.py"] = ""
        files[f"{label}/models.py"] = models_of(app)
        files[f"{label}/migrations/__init__.py"] = ""
        for name, text in migrations_of(app).items():
            files[f"{label}/migrations/{name}"] = text
    files["migrproj/burn.py"] = BURN
    for number in range(CLASSES):
        app = f"app{number * 2 % APPS:02d}"
        lines = [
            "import pytest",
            "from django.test import TestCase",
            "",
            "from migrproj.burn import burn",
            f"from {app}.models import Thing0, Thing2",
            "",
            "pytestmark = pytest.mark.records",
            # What importing a real test module's dependencies costs.
            f"burn({IMPORT_MS})" if IMPORT_MS else "",
            "",
            "",
            f"class TestRecords{number:02d}(TestCase):",
        ]
        if ALIASES and number % 2:
            lines.append('    databases = {"default", "archive"}')
        lines += [
            "    @classmethod",
            "    def setUpTestData(cls):",
            "        cls.thing = Thing0.objects.create(name='first', size=1)",
            "",
        ]
        for test in range(TESTS_PER_CLASS):
            lines += [
                f"    def test_record_{test:02d}(self):",
                f"        Thing0.objects.create(name='n{test}', size={test})",
                "        self.assertEqual(Thing2.objects.filter(name__startswith='seed').count(), 200)",
                "        self.assertEqual(Thing0.objects.count(), 2)",
            ]
            if TEST_MS:
                lines.append(f"        burn({TEST_MS})")
            lines.append("")
        files[f"tests/test_records_{number:02d}.py"] = "\n".join(lines)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    migrations = sum(1 for name in files if "/migrations/0" in name)
    print(f"wrote {root} ({SHAPE}): {APPS} apps, {migrations} migrations, {CLASSES * TESTS_PER_CLASS} tests")


if __name__ == "__main__":
    main()
