"""The contract with the xtask, as its Rust types make it (`contract.json`, written beside this module
by the xtask at every run, and committed for the package's own tests): the names of the environment
variables (`ENV.RUN_ID` is "XTASK_RUN_ID"), the shape of every event line, and the run specs. Every
event this package writes goes through `line`, every spec it reads through `read_spec`: a field the
Rust side does not have, or one it needs and is not given, is an error here, at once.
"""
import json
import os
from pathlib import Path
from typing import Any, Dict, Iterator, Mapping

_DEFINED = json.loads(Path(__file__).with_name("contract.json").read_text(encoding="utf-8"))


class ContractError(ValueError):
    """A line or a spec that is not what the xtask's Rust types say."""


class _Names:
    """The environment's names, by the contract's name for each (`ENV.EVENTS`)."""

    def __init__(self, names: Mapping[str, str]) -> None:
        self._names = dict(names)

    def __getattr__(self, name: str) -> str:
        try:
            return self._names[name]
        except KeyError:
            raise AttributeError(f"the contract names no variable {name}") from None

    def get(self, name: str, default: Any = None) -> Any:
        """The variable's value in this process's environment."""
        return os.environ.get(getattr(self, name), default)


ENV = _Names(_DEFINED["env"])

_SIMPLE = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def _fits(value: Any, kind: str) -> bool:
    """Whether a value is of the contract's type (its outer shape: lists and maps are not walked)."""
    if kind.startswith("optional<"):
        return value is None or _fits(value, kind[len("optional<") : -1])
    if kind.startswith(("list<", "pair<")):
        return isinstance(value, (list, tuple))
    if kind.startswith("map<"):
        return isinstance(value, dict)
    if kind in _SIMPLE:
        allowed = _SIMPLE[kind]
        return isinstance(value, allowed) and not (kind != "boolean" and isinstance(value, bool))
    if kind in _DEFINED["words"]:
        return value in _DEFINED["words"][kind]
    return isinstance(value, dict)


def _check(shape_name: str, data: Mapping[str, Any], what: str) -> None:
    shape = _DEFINED["shapes"][shape_name]
    unknown = sorted(set(data) - set(shape))
    if unknown:
        raise ContractError(f"{what}: the xtask's {shape_name} has no field {', '.join(unknown)}")
    missing = sorted(key for key, field in shape.items() if field["required"] and key not in data)
    if missing:
        raise ContractError(f"{what}: {shape_name} needs {', '.join(missing)}")
    for key, value in data.items():
        if not _fits(value, shape[key]["type"]):
            raise ContractError(f"{what}: {shape_name}.{key} must be {shape[key]['type']}, not {value!r:.80}")


def line(kind: str, **fields: Any) -> str:
    """One event line of kind `kind`, checked against its Rust shape."""
    shape = _DEFINED["events"].get(kind)
    if shape is None:
        raise ContractError(f"the xtask reads no event `{kind}`")
    _check(shape, fields, f"event `{kind}`")
    return json.dumps({"event": kind, **fields}, separators=(",", ":"))


def request(name: str, **fields: Any) -> str:
    """A request to the xtask's binary (`shard`), checked against its Rust shape."""
    shape = _DEFINED["requests"].get(name)
    if shape is None:
        raise ContractError(f"the xtask takes no request `{name}`")
    _check(shape, fields, f"the {name} request")
    return json.dumps(fields, separators=(",", ":"))


class Spec(Mapping[str, Any]):
    """A spec as the xtask wrote it: every key of its Rust shape, read as `spec.key` or `spec["key"]`."""

    def __init__(self, shape: str, data: Dict[str, Any]) -> None:
        self._shape = shape
        self._data = data

    def __getattr__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(f"{self._shape} has no field {key}") from None

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def read_spec(name: str, path: str) -> Spec:
    """The spec the xtask wrote at `path` (`session` or `database`), checked against its Rust shape."""
    shape = _DEFINED["specs"][name]
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    _check(shape, data, f"the {name} spec {path}")
    return Spec(shape, data)


def outcome_words() -> list:
    """The outcomes a `test` line may report."""
    return list(_DEFINED["words"]["Reported"])
