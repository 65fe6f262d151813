"""The contract as the package reads it (`contract.json`, made from the xtask's Rust types): an event
or a spec that is not what the Rust side has is refused here, at once."""
import json

import pytest

from xtask_runner import contract


def test_a_line_carries_its_kind_and_fields():
    made = json.loads(contract.line("span", lane="gw0", name="collection", start=1.0, stop=2.5))
    assert made == {"event": "span", "lane": "gw0", "name": "collection", "start": 1.0, "stop": 2.5}


@pytest.mark.parametrize(
    "kind, fields, said",
    [
        ("teleported", {}, "reads no event `teleported`"),
        ("span", {"lane": "gw0", "name": "x", "start": 1.0, "stop": 2.0, "colour": "red"}, "has no field colour"),
        ("span", {"lane": "gw0", "name": "x", "start": 1.0}, "needs stop"),
        ("span", {"lane": "gw0", "name": "x", "start": "soon", "stop": 2.0}, "start must be number"),
        ("databases", {"engines": "postgresql"}, "engines must be list<string>"),
        ("test", {"id": "t", "outcome": "maybe", "duration": 0.1, "worker": "gw0"}, "outcome must be Reported"),
    ],
)
def test_what_the_rust_types_do_not_have_is_refused(kind, fields, said):
    with pytest.raises(contract.ContractError, match=said):
        contract.line(kind, **fields)


def test_optional_fields_may_be_left_out_or_null():
    contract.line("finished")
    contract.line("finished", cost=None, stopped=None, lingering=[])
    contract.line("test", id="t", suite=None, outcome="passed", duration=0.1, worker="gw0", message=None)


def test_a_spec_is_read_whole_and_checked(tmp_path):
    spec = {
        "project": "demo",
        "run": "ab12cd34",
        "isolation": "xtask",
        "migrate": "once",
        "fresh": False,
        "private": True,
        "names_file": "/run/names",
        "built_file": "/run/built",
        "root": "/repo",
        "templates_dir": "/repo/target/xtask/sqlite/demo",
    }
    path = tmp_path / "database.json"
    path.write_text(json.dumps(spec))
    read = contract.read_spec("database", str(path))
    assert (read.project, read["migrate"], read.get("fresh")) == ("demo", "once", False)
    path.write_text(json.dumps({**spec, "colour": "red"}))
    with pytest.raises(contract.ContractError, match="has no field colour"):
        contract.read_spec("database", str(path))
    path.write_text(json.dumps({key: value for key, value in spec.items() if key != "run"}))
    with pytest.raises(contract.ContractError, match="needs run"):
        contract.read_spec("database", str(path))


def test_variables_are_named_by_the_contract(monkeypatch):
    assert contract.ENV.EVENTS == "XTASK_EVENTS"
    monkeypatch.setenv("XTASK_RUN_ID", "ab12cd34")
    assert contract.ENV.get("RUN_ID") == "ab12cd34"
    with pytest.raises(AttributeError):
        contract.ENV.NOT_A_VARIABLE  # noqa: B018


def test_every_outcome_the_plugin_reports_is_a_word_of_the_contract():
    from xtask_runner.outcomes import Outcomes  # noqa: F401 - imports cleanly without Django

    assert set(contract.outcome_words()) >= {"passed", "failed", "error", "skipped", "xfailed", "flaky", "crashed"}
