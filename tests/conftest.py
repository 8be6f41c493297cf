import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import upyharness  # noqa: E402


def pytest_collection_modifyitems(config, items):
    # Tests marked slow start simulated worlds (up to 12 MicroPython nodes and a virtual air each).
    # Two at once starve each other's nodes on a 2-core machine, so under `-n 2 --dist loadgroup`
    # they share one worker and run one after another while the other worker runs the rest.
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.xdist_group("simulated-world"))


def pytest_sessionfinish(session):
    # Under xdist each worker records its own MicroPython runs: hand them to the controller.
    out = getattr(session.config, "workeroutput", None)
    if out is not None:
        out["upy_runs"] = json.dumps(upyharness.RUNS)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    runs = getattr(node, "workeroutput", {}).get("upy_runs", "[]")
    upyharness.RUNS.extend(tuple(r) for r in json.loads(runs))


def pytest_terminal_summary(terminalreporter):
    if not upyharness.RUNS:
        return
    terminalreporter.section("tests executed by the MicroPython interpreter")
    total = 0
    for label, version, passed, failed in sorted(upyharness.RUNS):
        terminalreporter.write_line("micropython %s: %s: %d passed, %d failed" % (version, label, passed, failed))
        total += passed
    terminalreporter.write_line("MicroPython executed %d tests in %d runs" % (total, len(upyharness.RUNS)))
