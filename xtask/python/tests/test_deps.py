"""What a test depends on (`deps`): the files of the functions that ran while it ran (never the
import-time code of a module or a class body), closed over the static imports of loaded modules."""
import sys
import textwrap

from xtask_runner import deps


def test_relative_and_dotted_imports_name_every_module_they_load(tmp_path):
    source = tmp_path / "views.py"
    source.write_text(textwrap.dedent("""
        import json
        import shop.models.order
        from . import forms
        from .helpers import money
        from ..common import clock
    """))
    names = deps._imports_of(str(source), "shop.views")
    assert {"json", "shop.models.order", "shop.views", "shop.views.forms", "shop.views.helpers",
            "shop.views.helpers.money", "shop.common", "shop.common.clock"} <= set(names)


def test_functions_count_and_import_time_code_does_not(tmp_path, monkeypatch):
    module = tmp_path / "lazy_mod.py"
    module.write_text("class Declared:\n    value = 1\n\n\ndef called():\n    return 2\n")
    other = tmp_path / "only_imported.py"
    other.write_text("X = 1\n\n\nclass Body:\n    y = 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    deps.start({"root": str(tmp_path), "deps_dir": str(tmp_path / "out")})
    try:
        assert deps.begin() is True
        import lazy_mod
        import only_imported  # noqa: F401 - imported during the test, never run

        lazy_mod.called()
        deps.end("t::one")
    finally:
        sys.settrace(None)
        deps._out = None
    seen = deps._tests.pop("t::one")
    assert str(module) in seen
    assert str(other) not in seen, "a module imported, none of its functions run"
