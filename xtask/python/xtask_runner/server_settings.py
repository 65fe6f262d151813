"""The Django settings a server started by `cargo xtask` serves with (`[[suite.server]]`): the
project's own module (the contract's SERVER_SETTINGS variable names it), imported whole, with every
database alias pointed at this run's databases (SERVER_DATABASES: a JSON object, alias -> the
settings keys to change) and MEDIA_ROOT at the server's own directory (SERVER_MEDIA). The project's
settings file is not edited; a server of another run never meets this one's data.
"""
import copy
import importlib
import json

from xtask_runner.contract import ENV

_project = importlib.import_module(ENV.get("SERVER_SETTINGS"))
globals().update({name: getattr(_project, name) for name in dir(_project) if name.isupper()})

DATABASES = copy.deepcopy(getattr(_project, "DATABASES", {}))
# Each alias's keys as the xtask made them (OPTIONS whole, when it changes them).
for _alias, _overrides in json.loads(ENV.get("SERVER_DATABASES", "{}")).items():
    DATABASES.setdefault(_alias, {}).update(_overrides)
if ENV.get("SERVER_MEDIA"):
    MEDIA_ROOT = ENV.get("SERVER_MEDIA")
