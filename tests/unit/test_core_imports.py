"""The dispatch core stays pure: importing all of it loads no adapter library."""

import json
import pkgutil
import subprocess
import sys

import garde.dispatch

FORBIDDEN = ("pynetdicom", "pydicom", "sqlalchemy", "apscheduler", "click", "PIL", "SimpleITK")


def dispatch_modules():
    return sorted(m.name for m in pkgutil.walk_packages(garde.dispatch.__path__, "garde.dispatch."))


def test_every_dispatch_module_is_checked():
    modules = dispatch_modules()
    for name in (
        "triage",
        "sla",
        "lifecycle",
        "board",
        "router",
        "explanation",
        "latebinding",
        "stability",
        "reroute",
        "takeover",
        "manual",
        "reach",
    ):
        assert f"garde.dispatch.{name}" in modules


def test_dispatch_imports_no_adapter_library():
    code = (
        "import importlib, json, sys\n"
        f"for name in {dispatch_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = json.loads(result.stdout)
    offenders = sorted(m for m in loaded if any(m == f or m.startswith(f"{f}.") for f in FORBIDDEN))
    assert offenders == []
    assert "garde.dispatch.router" in loaded
