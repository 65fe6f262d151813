"""What a test depends on (`deps`): the files of the functions that ran while it ran (never the
import-time code of a module or a class body), closed over the static imports of loaded modules."""
import contextlib
import sys
import textwrap
import threading

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


class _Plugins:
    def __init__(self):
        self.registered = []

    def register(self, plugin, name):
        self.registered.append(name)

    def get_plugin(self, name):
        return None


def _noted(tmp_path, phase_body, other=None):
    """Runs `phase_body` as one phase of a noted test `t::one`; what the record holds for it (None:
    left unmapped)."""
    plugins = _Plugins()
    deps.start({"root": str(tmp_path), "deps_dir": str(tmp_path / "out")}, plugins)
    try:
        assert plugins.registered == ["xtask-deps"], "the phases' hooks are registered with pytest"
        assert deps.begin() is True
        if other is not None:
            other()  # between phases: pytest's own work, not watched
        with contextlib.contextmanager(deps._phase)():
            phase_body()
        deps.end("t::one")
    finally:
        deps._out = None
    return deps._tests.pop("t::one", None)


def test_functions_count_and_import_time_code_does_not(tmp_path, monkeypatch):
    module = tmp_path / "lazy_mod.py"
    module.write_text("class Declared:\n    value = 1\n\n\ndef called():\n    return 2\n")
    other = tmp_path / "only_imported.py"
    other.write_text("X = 1\n\n\nclass Body:\n    y = 2\n")
    between = tmp_path / "between.py"
    between.write_text("def reported():\n    return 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    def body():
        import lazy_mod
        import only_imported  # noqa: F401 - imported during the test, never run

        lazy_mod.called()

    import between as between_module

    seen = _noted(tmp_path, body, other=between_module.reported)
    assert str(module) in seen
    assert str(other) not in seen, "a module imported, none of its functions run"
    assert str(between) not in seen, "what runs between the phases is pytest's, not the test's"


def test_a_thread_the_test_starts_is_followed(tmp_path, monkeypatch):
    module = tmp_path / "in_thread.py"
    module.write_text("def work():\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import in_thread

    def body():
        worker = threading.Thread(target=in_thread.work)
        worker.start()
        worker.join()

    assert str(module) in _noted(tmp_path, body)


def test_a_test_that_takes_the_profile_hook_is_left_unmapped(tmp_path):
    def body():
        sys.setprofile(None)  # as a profiler or a debugger started by the test would

    assert _noted(tmp_path, body) is None
    assert sys.getprofile() is None
