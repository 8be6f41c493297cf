"""Real-stack tests share one NimBLE MicroPython build (cached by source hash: reruns are instant)."""

import pytest

from myosim.realstack import build


@pytest.fixture(scope="session")
def nimble_exe():
    try:
        return build.ensure_binary()
    except build.SourceMissing as e:
        pytest.skip("NimBLE MicroPython source absent (%s)" % e)
    # BuildError (no compiler, no libffi, make failed) is a failure, not a skip: CI must build it.
