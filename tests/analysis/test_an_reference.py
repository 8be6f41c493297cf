"""The analysis JSON of the real lab files and of simulated recordings equals the stored reference.

The references (reference/*.json.gz, written by make_reference.py from the code before the issue
16 speed work) hold every reported value, already rounded by the analysis; the comparison is
exact. A mismatch lists the first differing paths. Regenerate the references only for an
intended, reviewed change of results (see make_reference.py).
"""

import pytest

import make_reference as ref

def _diff(a, b, path="", out=None, limit=12):
    """Paths (JSON-pointer style) where a and b differ, at most `limit`."""
    out = [] if out is None else out
    if len(out) >= limit:
        return out
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append("%s/%s: %s" % (path, k, "missing now" if k not in a else "new"))
            else:
                _diff(a[k], b[k], "%s/%s" % (path, k), out, limit)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append("%s: length %d, reference %d" % (path, len(a), len(b)))
        for k, (x, y) in enumerate(zip(a, b)):
            _diff(x, y, "%s/%d" % (path, k), out, limit)
    elif a != b or type(a) is not type(b):
        out.append("%s: %r, reference %r" % (path, a, b))
    return out[:limit]


@pytest.fixture(scope="module")
def case_loaders(tmp_path_factory):
    return dict(ref.cases(str(tmp_path_factory.mktemp("reference_inputs"))))


NAMES = [p.name[:-len(".json.gz")] for p in sorted(ref.REFERENCE.glob("*.json.gz"))]


@pytest.mark.parametrize("name", NAMES)
def test_analysis_json_equals_reference(name, case_loaders):
    if name not in case_loaders:
        pytest.skip("input of %s not present on this machine" % name)
    got = ref.analysis_json(case_loaders[name])
    want = ref.read(name)
    if got != want:
        pytest.fail("analysis JSON of %s differs from the reference:\n  %s" % (name, "\n  ".join(_diff(got, want))))


def test_every_case_has_a_reference(case_loaders):
    missing = sorted(set(case_loaders) - set(NAMES))
    assert not missing, "no reference for %s: run make_reference.py" % missing
