import numpy as np
import pytest

from myostride.acquire.sync import ClockFit, OnlineClock, fit_clock, round_trip_us, select_exchanges


def _exchanges(seconds=60.0, ppm=80.0, wander_us=40.0, period_s=0.25, delay_us=1500.0, outliers=0, seed=1):
    """Node clock with drift and slow sinusoidal wander; symmetric random radio delays."""
    rng = np.random.default_rng(seed)

    def node_of(g_s):
        return 7e6 + g_s * 1e6 * (1 + ppm * 1e-6) + wander_us * np.sin(2 * np.pi * g_s / 45.0)

    h = np.arange(0.2, seconds, period_s) + rng.uniform(0, 0.02, int(np.ceil((seconds - 0.2) / period_s)))[: len(np.arange(0.2, seconds, period_s))]
    up = rng.exponential(delay_us, len(h))
    down = rng.exponential(delay_us, len(h))
    if outliers:
        idx = rng.choice(len(h), outliers, replace=False)
        up[idx] += 80_000  # a stalled write: huge one-way delay
    turn = rng.uniform(100, 400, len(h))
    t1 = h * 1e6
    t2 = node_of(h + up / 1e6)
    t3 = t2 + turn
    t4 = t1 + up + turn + down
    return np.stack([t1, t2, t3, t4], 1).astype(np.int64), node_of


def _errors(fit, node_of, seconds):
    g = np.linspace(1.0, seconds - 1.0, 2000)
    return fit.host_us(node_of(g)) - g * 1e6


def test_fit_tracks_drift_and_wander():
    ex, node_of = _exchanges()
    fit = fit_clock(ex)
    err = np.abs(_errors(fit, node_of, 60.0))
    assert np.percentile(err, 99) < 350.0, np.percentile(err, 99)
    assert abs(fit.skew_ppm() + 80.0) < 10.0  # host runs slower than this node by ~80 ppm


def test_selection_keeps_low_round_trips_and_outliers_do_not_move_the_fit():
    ex, node_of = _exchanges(outliers=40, seed=2)
    keep = select_exchanges(ex, bin_s=2.0, keep_per_bin=3)
    rtt = round_trip_us(ex)
    assert rtt[keep].max() < np.percentile(rtt, 90)
    err = np.abs(_errors(fit_clock(ex), node_of, 60.0))
    assert np.percentile(err, 99) < 300.0


def test_naive_midpoint_of_all_exchanges_is_worse():
    """The selection + robust local fit must beat a plain line through every exchange."""
    ex, node_of = _exchanges(outliers=20, seed=4, delay_us=3000.0)
    fit = fit_clock(ex)
    mid_node = (ex[:, 1] + ex[:, 2]) / 2.0
    r = (ex[:, 0] + ex[:, 3]) / 2.0 - mid_node
    b, a = np.polyfit(mid_node - mid_node[0], r, 1)
    naive = ClockFit([int(mid_node[0]), int(mid_node[-1])], [a, a + b * (mid_node[-1] - mid_node[0])])
    e_fit = np.percentile(np.abs(_errors(fit, node_of, 60.0)), 99)
    e_naive = np.percentile(np.abs(_errors(naive, node_of, 60.0)), 99)
    assert e_fit < e_naive


def test_clockfit_json_roundtrip_and_extrapolation():
    f = ClockFit([1_000_000, 2_000_000], [10.0, 110.0])
    g = ClockFit.from_json(f.to_json())
    assert np.allclose(g.host_us([1_500_000, 3_000_000, 0]), [1_500_060.0, 3_000_210.0, -90.0])
    assert g.skew_ppm() == pytest.approx(100.0)


def test_no_usable_exchange_is_an_error():
    with pytest.raises(ValueError, match="no usable"):
        fit_clock([(100, 50, 40, 90)])  # t3 < t2 and t4 < t1


def test_online_clock_window():
    ex, node_of = _exchanges(seconds=50.0)
    oc = OnlineClock(window_s=10.0)
    for row in ex:
        oc.add(*row)
    assert all(r[3] >= ex[-1, 3] - 10e6 for r in oc.rows)
    fit = oc.refit()
    g = np.linspace(45, 49, 50)
    assert np.percentile(np.abs(fit.host_us(node_of(g)) - g * 1e6), 99) < 400
    assert oc.rtt_median_us() > 0


def _ble_session(interval_us, ppm, seconds=30.0, seed=5, latency_us=600.0, jitter_us=800.0):
    """BLE-like timing: writes wait for the next connection event, replies go one event later,
    notifications reach the host at events + latency; node receive delay ~ exp(100 us)."""
    rng = np.random.default_rng(seed)
    anchor = 1_000_000 + rng.uniform(0, interval_us)

    def node_of(g_us):
        return 4e6 + g_us * (1 + ppm * 1e-6)

    def next_event(t):
        return anchor + np.ceil((t - anchor) / interval_us) * interval_us

    rows = []
    arrivals = []
    t = 2_000_000.0
    while t < seconds * 1e6:
        e1 = next_event(t + 100)
        d_node = rng.exponential(100.0)
        t2 = node_of(e1 + d_node)
        t3 = t2 + 200
        e2 = next_event(e1 + d_node + 200 + 1)
        t4 = e2 + latency_us + rng.exponential(jitter_us)
        rows.append((int(t), int(t2), int(t3), int(t4)))
        arrivals.append(t4)
        t = t4 + rng.uniform(20_000, 80_000)
    # data notifications: ~20 per second at events
    for g in np.arange(2e6, seconds * 1e6, 50_000.0):
        arrivals.append(next_event(g) + latency_us + rng.exponential(jitter_us))
    return np.array(rows, dtype=np.int64), np.array(arrivals), node_of


@pytest.mark.parametrize("interval_ms", [7.5, 30.0, 50.0])
def test_lattice_method_removes_the_connection_interval_bias(interval_ms):
    from myostride.acquire.sync import estimate_lattice

    ex, arrivals, node_of = _ble_session(interval_ms * 1000, ppm=-70.0)
    lat = estimate_lattice(arrivals[arrivals < 10e6])
    assert lat is not None and lat[0] == pytest.approx(interval_ms * 1000)
    g = np.linspace(3e6, 28e6, 500)
    fit = fit_clock(ex, arrivals_us=arrivals)
    assert fit.stats["method"] == "lattice"
    err = fit.host_us(node_of(g)) - g
    mid = fit_clock(ex, method="midpoint")
    err_mid = mid.host_us(node_of(g)) - g
    # what is left is the host's fixed latency (600 us, common to all nodes) minus the node delay
    assert np.all(np.abs(err - 600.0) < 150.0), (err.min(), err.max())
    if interval_ms >= 30:
        assert np.median(np.abs(err_mid)) > 5 * np.median(np.abs(err - 600.0))


def test_lattice_not_claimed_without_one():
    ex, _node_of = _exchanges(seconds=30.0)
    rng = np.random.default_rng(0)
    arrivals = np.sort(rng.uniform(0, 30e6, 600))  # no connection-event structure
    fit = fit_clock(ex, arrivals_us=arrivals)
    assert fit.stats["method"] == "midpoint"


def test_clockfit_scalar_input():
    f = ClockFit([0, 1_000_000], [5.0, 15.0])
    assert float(f.host_us(2_000_000)) == pytest.approx(2_000_025.0)
    assert float(f.host_us(2_000_000.5)) == pytest.approx(2_000_025.5)


def test_one_stray_early_arrival_does_not_tilt_the_lattice():
    """A notification logged well before its connection event (seen once in a 12-node
    run: -1.7 ms) must not pass for a bin's edge and tilt the phase line (a skew error)."""
    ex, arrivals, node_of = _ble_session(7500.0, ppm=40.0)
    g = np.linspace(3e6, 28e6, 500)
    clean = fit_clock(ex, arrivals_us=arrivals)
    stray = np.append(arrivals, [3.1e6 - 1700.0 + 600.0 - (3.1e6 - 1e6) % 7500.0])
    fit = fit_clock(ex, arrivals_us=stray)
    assert fit.stats["method"] == "lattice"
    err = fit.host_us(node_of(g)) - g
    err_clean = clean.host_us(node_of(g)) - g
    assert np.all(np.abs(err - 600.0) < 150.0), (err.min(), err.max())
    assert np.max(np.abs(err - err_clean)) < 40.0
