import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import upyharness  # noqa: E402


def pytest_terminal_summary(terminalreporter):
    if not upyharness.RUNS:
        return
    terminalreporter.section("tests executed by the MicroPython interpreter")
    total = 0
    for label, version, passed, failed in upyharness.RUNS:
        terminalreporter.write_line("micropython %s: %s: %d passed, %d failed" % (version, label, passed, failed))
        total += passed
    terminalreporter.write_line("MicroPython executed %d tests in %d runs" % (total, len(upyharness.RUNS)))
