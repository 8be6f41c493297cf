"""The connection events' drift against the host clock is one figure for all nodes of an adapter.

Every link of one adapter has its events timed by the adapter's clock and its notifications
stamped by the same host stack, so the slope of each node's lattice phase line is the same
quantity measured once per node. The first version fitted it per node, from the earliest
arrival of groups of 32 events: its noise (1-2 us/s) put nodes +/-20 us apart at the ends of a
30 s run. These tests build several nodes on one synthetic adapter (tests/host_acq/synthsync.py).
"""

import numpy as np

from myostride.acquire import sync
from synthsync import L0_US, synth_session

INTERVALS_US = (7_500.0, 11_250.0, 15_000.0, 20_000.0, 30_000.0, 36_250.0, 45_000.0, 50_000.0)


def _adapter(radio_ppm, seeds, seconds=30.0):
    return [synth_session(interval_us=iv, seconds=seconds, seed=seed, radio_ppm=radio_ppm, ppm=40.0 * (-1) ** seed)
            for iv, seed in zip(INTERVALS_US, seeds)]


def _errors(nodes, drift):
    """Per node: error (us) of its fit over node time 4-29 s of the global clock."""
    out = []
    for ex, arr, node_of in nodes:
        fit = sync.fit_clock(ex, arrivals_us=arr, lattice_drift_us_per_s=drift)
        assert fit.stats["method"] == "lattice"
        g = np.linspace(4e6, 29e6, 300)
        out.append(fit.host_us(node_of(g)) - g - L0_US)
    return np.array(out)


def test_common_drift_is_the_adapter_clock_rate():
    """Events 25 ppm fast against the host clock slide 25 us per second earlier."""
    nodes = _adapter(25.0, range(1, 9))
    drift = sync.common_lattice_drift((arr, None) for _ex, arr, _n in nodes)
    assert abs(drift - (-25.0)) < 1.0, drift
    # fewer than three nodes with a lattice: no common figure
    assert sync.common_lattice_drift((arr, None) for _ex, arr, _n in nodes[:2]) is None
    assert sync.common_lattice_drift([(None, None), ([], None)]) is None


def test_common_drift_aligns_the_nodes_better_than_each_node_alone():
    nodes = _adapter(25.0, range(11, 19))
    drift = sync.common_lattice_drift((arr, None) for _ex, arr, _n in nodes)
    own, common = _errors(nodes, None), _errors(nodes, drift)

    def p99(errs):
        return np.percentile(np.concatenate([np.abs(errs[i] - errs[j]) for i in range(len(errs))
                                             for j in range(i + 1, len(errs))]), 99)

    assert p99(common) < 0.8 * p99(own), (p99(common), p99(own))
    assert p99(common) < 30.0, p99(common)


def test_a_node_on_another_adapter_keeps_its_own_drift():
    """Six nodes on an adapter 25 ppm fast, one on another 35 ppm slow: the median is the
    first adapter's, and the odd node's own arrivals exclude it, so it keeps its own slope."""
    nodes = _adapter(25.0, range(21, 27))
    other = synth_session(interval_us=22_500.0, seconds=30.0, seed=27, radio_ppm=-35.0)
    drift = sync.common_lattice_drift((arr, None) for _ex, arr, _n in nodes + [other])
    assert abs(drift - (-25.0)) < 1.5, drift
    ex, arr, node_of = other
    fit = sync.fit_clock(ex, arrivals_us=arr, lattice_drift_us_per_s=drift)
    assert fit.stats["lattice_drift_from"] == ["own"]
    assert abs(fit.stats["lattice_drift_us_per_s"][0] - 35.0) < 2.0, fit.stats
    g = np.linspace(4e6, 29e6, 300)
    err = fit.host_us(node_of(g)) - g - L0_US
    assert np.all(np.abs(err - np.median(err)) < 30.0), (err.min(), err.max())
    # and a node of the first adapter takes the common figure
    ex, arr, _node_of = nodes[0]
    assert sync.fit_clock(ex, arrivals_us=arr, lattice_drift_us_per_s=drift).stats["lattice_drift_from"] == ["common"]
