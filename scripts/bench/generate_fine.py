"""Writes a fine-grained Django test project for the benchmark (not a test): `python3 generate_fine.py DIR`.

The shape that broke a longest-first scheduler: 1,600 tests of 2-10 ms in 40 Django `TestCase`
classes of 8 modules, each class with a `setUpTestData` that makes rows in a table of its own (and
costs 20 ms), tests that assert primary keys and row counts that hold when a class is set up once on
its database. Two suites by marker, no pytest arguments. PostgreSQL from DATABASE_URL. Each test
module reads the rows it expects from a helper module of its own (`ledgers/expect_<module>.py`), so a
one-line change to one module reaches one module's tests (the inner-loop benchmark), and a test
named in BENCH_FAIL (`Class.test`, comma-separated) fails.

`conftest.py` writes each process's summed test durations (setup + call + teardown, without the
session-scoped fixtures such as the test database) to BENCH_DURATIONS, so that the benchmark compares
the tests' own time under every contender alike.
"""
import sys
from pathlib import Path

from bench_settings import settings

MODULES = 8
CLASSES_PER_MODULE = 5
TESTS_PER_CLASS = 40

SETTINGS = settings("fine", '["django.contrib.contenttypes", "django.contrib.auth", "ledgers"]')

CONFTEST = '''"""Each process writes its tests' summed own durations (setup + call + teardown, without session-scoped
fixtures such as the test database) to BENCH_DURATIONS/<pid>.json, for the benchmark."""
import json
import os
import time

import pytest

_total = {"seconds": 0.0, "tests": 0}
_session_fixtures = [0.0]


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    start = time.perf_counter()
    yield
    if fixturedef.scope == "session":
        _session_fixtures[0] += time.perf_counter() - start


def pytest_runtest_logreport(report):
    if os.environ.get("PYTEST_XDIST_WORKER") is None and hasattr(report, "node"):
        return  # the controller sees the workers' reports again
    _total["seconds"] += report.duration
    if report.when == "call":
        _total["tests"] += 1


def pytest_sessionfinish(session):
    out = os.environ.get("BENCH_DURATIONS")
    if out and _total["tests"]:
        seconds = _total["seconds"] - _session_fixtures[0]
        with open(os.path.join(out, f"{os.getpid()}.json"), "w") as handle:
            json.dump({"seconds": seconds, "tests": _total["tests"]}, handle)
'''

XTASK_TOML = '''# The benchmark's fine-grained project (scripts/bench/generate_fine.py).
project = "fine"

[backend]
dir = "."
settings = "fineproj.settings"

[[suite]]
name = "models"
marker = "models"
max_workers = 8

[[suite]]
name = "views"
marker = "views"
max_workers = 8
'''

PYTEST_INI = '''[pytest]
addopts = --strict-markers -p no:cacheprovider
pythonpath = .
DJANGO_SETTINGS_MODULE = fineproj.settings
markers =
    models: model tests
    views: view tests
'''

BURN = '''import time


def burn(milliseconds):
    """The test's own work: CPU, not sleep."""
    end = time.process_time() + milliseconds / 1000
    while time.process_time() < end:
        pass
'''


def table(number):
    return f"Entry{number:03d}"


def main():
    root = Path(sys.argv[1])
    classes = MODULES * CLASSES_PER_MODULE
    models = ["from django.db import models", "", ""]
    for number in range(classes):
        models += [f"class {table(number)}(models.Model):", "    label = models.CharField(max_length=20)", "", ""]
    id_field = 'models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")'
    operations = "\n".join(
        f'        migrations.CreateModel(name="{table(n)}", fields=[("id", {id_field}), '
        f'("label", models.CharField(max_length=20))]),'
        for n in range(classes)
    )
    migration = (
        "from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n"
        f"    initial = True\n    dependencies = []\n    operations = [\n{operations}\n    ]\n"
    )
    files = {
        "xtask.toml": XTASK_TOML,
        "pytest.ini": PYTEST_INI,
        "requirements.txt": "# The benchmark runs with the reference backend's interpreter (XTASK_PYTHON).\n",
        "conftest.py": CONFTEST,
        "fineproj/__init__.py": "",
        "fineproj/settings.py": SETTINGS,
        "fineproj/burn.py": BURN,
        "ledgers/__init__.py": "",
        "ledgers/models.py": "\n".join(models).rstrip() + "\n",
        "ledgers/migrations/__init__.py": "",
        "ledgers/migrations/0001_initial.py": migration,
        "tests/__init__.py": "",
    }
    for module in range(MODULES):
        marker = "models" if module < 6 else "views"
        lines = [
            "import pytest",
            "from django.test import TestCase",
            "",
            "import os",
            "",
            "from fineproj.burn import burn",
            "from ledgers import models",
            f"from ledgers import expect_{module} as expect",
            "",
            f"pytestmark = pytest.mark.{marker}",
            "",
        ]
        for offset in range(CLASSES_PER_MODULE):
            number = module * CLASSES_PER_MODULE + offset
            lines += [
                "",
                f"class TestLedger{number:03d}(TestCase):",
                "    @classmethod",
                "    def setUpTestData(cls):",
                f"        cls.first = models.{table(number)}.objects.create(label='first')",
                f"        models.{table(number)}.objects.create(label='second')",
                "        burn(20)",
                "",
                "    def check(self, milliseconds):",
                "        burn(milliseconds)",
                "        # Holds when this class was set up once on its database: its table is its own.",
                "        self.assertEqual(self.first.pk, 1)",
                f"        self.assertEqual(models.{table(number)}.objects.count(), expect.ROWS())",
                "        failing = os.environ.get('BENCH_FAIL', '').split(',')",
                "        self.assertNotIn(f'{type(self).__name__}.{self._testMethodName}', failing)",
            ]
            for test in range(TESTS_PER_CLASS):
                milliseconds = 2 + (number * 7 + test * 3) % 9
                lines += ["", f"    def test_entry_{test:02d}(self):", f"        self.check({milliseconds})"]
            lines.append("")
        files[f"tests/test_ledgers_{module}.py"] = "\n".join(lines)
        files[f"ledgers/expect_{module}.py"] = (
            f'"""The rows each class of tests/test_ledgers_{module}.py makes."""\n\n\ndef ROWS():\n    return 2\n'
        )
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print(f"wrote {root}: {classes * TESTS_PER_CLASS} tests in {classes} classes of {MODULES} modules")


if __name__ == "__main__":
    main()
