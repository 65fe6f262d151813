"""Writes a realistic Django test project for the benchmark (not a test): `python3 generate_project.py DIR`.

The shape of the legacy projects the xtask was measured on:
- 540 tests in 45 modules (tests/ folders and beside the app), about 60 % of them without a suite marker;
- about 1 s of CPU-bound start-up in every pytest process (heavy imports, as real dependencies have);
- long-tailed durations, CPU-bound: most tests 5-30 ms, about 5 % 0.3-2 s;
- about a quarter of the tests use the database (PostgreSQL from DATABASE_URL, real ORM queries).
The same seed always writes the same project; `planned.json` lists every test with its intended work.
"""
import json
import random
import sys
from pathlib import Path

from bench_settings import settings

MODULES = 45
TESTS_PER_MODULE = 12
# Markers of the suites in the generated xtask.toml; None: unmarked (about 60 %).
MARKERS = ["unit"] * 20 + ["api"] * 10 + ["processing"] * 4 + ["postgres"] * 3 + ["smoke"] * 3 + [None] * 60

SETTINGS = settings("bench", '["django.contrib.auth", "django.contrib.contenttypes", "shop"]', 'import benchproj.heavy  # noqa: F401  (the start-up every process pays)')

HEAVY = '''"""Stands for the heavy imports of a real project: about one second of CPU at import."""
import hashlib
import time

_start = time.process_time()
_digest = b"start-up"
while time.process_time() - _start < 1.0:
    for _ in range(200):
        _digest = hashlib.sha256(_digest).digest()
'''

BURN = '''import hashlib
import time


def burn(seconds):
    """Keeps one CPU busy for `seconds` of process time: the test's own work."""
    start = time.process_time()
    digest = b"work"
    while time.process_time() - start < seconds:
        for _ in range(50):
            digest = hashlib.sha256(digest).digest()
    return digest
'''

MODELS = '''from django.db import models


class Customer(models.Model):
    name = models.CharField(max_length=100)


class Order(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders")
    total = models.IntegerField()
'''

MIGRATION = '''from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Customer",
            fields=[("id", models.AutoField(primary_key=True)), ("name", models.CharField(max_length=100))],
        ),
        migrations.CreateModel(
            name="Order",
            fields=[
                ("id", models.AutoField(primary_key=True)),
                ("total", models.IntegerField()),
                ("customer", models.ForeignKey(on_delete=models.deletion.CASCADE, related_name="orders", to="shop.customer")),
            ],
        ),
    ]
'''

XTASK_TOML = '''# The benchmark's generated project (scripts/bench/generate_project.py): the legacy shape.
project = "bench"

[backend]
dir = "."
settings = "benchproj.settings"

[[suite]]
name = "unit"
marker = "unit"
max_workers = 8
args = ["--dist", "loadscope"]

[[suite]]
name = "api"
marker = "api"
max_workers = 4

[[suite]]
name = "processing"
marker = "processing"
max_workers = 2

[[suite]]
name = "postgres"
marker = "postgres"
max_workers = 1

[[suite]]
name = "smoke"
marker = "smoke"
max_workers = 2
'''

PYTEST_INI = '''[pytest]
addopts = --strict-markers -p no:cacheprovider
pythonpath = .
DJANGO_SETTINGS_MODULE = benchproj.settings
markers =
    unit: fast isolated tests
    api: HTTP API tests
    processing: document processing
    postgres: PostgreSQL features
    smoke: end-to-end journeys
'''


def duration(rng):
    if rng.random() < 0.05:
        return round(rng.uniform(0.3, 2.0), 3)
    return round(rng.uniform(0.005, 0.030), 4)


def test_source(rng, module, marker_per_test):
    lines = ["import pytest", "", "from benchproj.burn import burn", ""]
    module_marker = rng.choice(MARKERS) if not marker_per_test else None
    if module_marker:
        lines += [f"pytestmark = pytest.mark.{module_marker}", ""]
    planned = []
    for n in range(TESTS_PER_MODULE):
        seconds = duration(rng)
        marker = rng.choice(MARKERS) if marker_per_test else None
        uses_db = rng.random() < 0.25 or (marker or module_marker) == "postgres"
        decorators = []
        if marker:
            decorators.append(f"@pytest.mark.{marker}")
        if uses_db:
            decorators.append("@pytest.mark.django_db")
        body = [f"    burn({seconds})"]
        if uses_db:
            body = [
                "    from shop.models import Customer, Order",
                f"    customer = Customer.objects.create(name='c{n}')",
                "    for total in range(5):",
                "        Order.objects.create(customer=customer, total=total)",
                "    assert customer.orders.count() == 5",
            ] + body
        lines += decorators + [f"def test_case_{n:02d}():"] + body + ["", ""]
        planned.append({"module": module, "test": f"test_case_{n:02d}", "seconds": seconds, "db": uses_db,
                        "marker": marker or module_marker})
    return "\n".join(lines).rstrip() + "\n", planned


def main():
    root = Path(sys.argv[1])
    rng = random.Random(20261124)
    files = {
        "xtask.toml": XTASK_TOML,
        "pytest.ini": PYTEST_INI,
        "requirements.txt": "# The benchmark runs with the reference backend's interpreter (XTASK_PYTHON).\n",
        "conftest.py": "",
        "benchproj/__init__.py": "",
        "benchproj/settings.py": SETTINGS,
        "benchproj/heavy.py": HEAVY,
        "benchproj/burn.py": BURN,
        "shop/__init__.py": "",
        "shop/models.py": MODELS,
        "shop/migrations/__init__.py": "",
        "shop/migrations/0001_initial.py": MIGRATION,
        "shop/tests/__init__.py": "",
        "tests/__init__.py": "",
    }
    planned = []
    for index in range(MODULES):
        # A third of the modules live beside the app, the rest in tests/; half mark per test.
        folder = "shop/tests" if index % 3 == 0 else "tests"
        module = f"{folder}/test_m{index:02d}.py"
        text, tests = test_source(rng, module, marker_per_test=index % 2 == 0)
        files[module] = text
        planned += tests
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    (root / "planned.json").write_text(json.dumps(planned, indent=1))
    unmarked = sum(1 for test in planned if test["marker"] is None)
    print(
        f"{len(planned)} tests in {MODULES} modules, {unmarked} unmarked, "
        f"{sum(test['db'] for test in planned)} on the database, "
        f"{sum(test['seconds'] for test in planned):.1f} s of test work"
    )


if __name__ == "__main__":
    main()
