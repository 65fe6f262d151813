"""Test settings: one database per run and suite, fast hashing, nothing shared between runs.

The xtask gives every test process `XTASK_RUN_ID` and `XTASK_SUITE`; pytest-django appends `_gwN` to
the name below for each xdist worker, so two runs on one server, or two workers of one run, never meet.
Without the xtask (plain `pytest`), the names fall back to `local` and `all`.
"""
import copy
import os
import re

from config.settings import *  # noqa: F401,F403
from config.settings import DATABASES

# A copy: reloading this module (a test of these names does) must not reach the dict that Django's
# live connections were configured from, or later tests in the same process lose its TEST defaults.
DATABASES = copy.deepcopy(DATABASES)

_run = os.environ.get("XTASK_RUN_ID", "local")
_suite = os.environ.get("XTASK_SUITE", "all")
TEST_DATABASE_NAME = f"test_viatique_{_run}_{_suite}"
if not re.fullmatch(r"[a-z0-9_]{1,58}", TEST_DATABASE_NAME):
    raise ValueError(
        f"test database name {TEST_DATABASE_NAME!r} is not [a-z0-9_] or too long: "
        "check XTASK_RUN_ID and XTASK_SUITE"
    )
DATABASES["default"]["TEST"] = {"NAME": TEST_DATABASE_NAME}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
