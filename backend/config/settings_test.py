"""Test settings: one database per run and suite, fast hashing, nothing shared between runs.

The xtask gives every test process the exact name of its session's test database,
`XTASK_TEST_DATABASE` (unique per run and session); pytest-django appends `_gwN` to it for each xdist
worker, so two runs on one server, or two workers of one run, never meet. Without the xtask (plain
`pytest`), the name falls back to `test_viatique_local_all`.
"""
import copy
import os
import re

from config.settings import *  # noqa: F401,F403
from config.settings import DATABASES

# A copy: reloading this module (a test of these names does) must not reach the dict that Django's
# live connections were configured from, or later tests in the same process lose its TEST defaults.
DATABASES = copy.deepcopy(DATABASES)

TEST_DATABASE_NAME = os.environ.get("XTASK_TEST_DATABASE") or "test_viatique_local_all"
if not re.fullmatch(r"[a-z0-9_]{1,58}", TEST_DATABASE_NAME):
    raise ValueError(
        f"test database name {TEST_DATABASE_NAME!r} is not [a-z0-9_] or too long: check XTASK_TEST_DATABASE"
    )
DATABASES["default"]["TEST"] = {"NAME": TEST_DATABASE_NAME}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
