import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import upyharness  # noqa: E402


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
