"""Radio model: Gilbert-Elliott statistics and determinism, interval grid, airtime, outages, settings errors."""

import pytest

from myosim import radiomodel as RM


def _pattern(seed, node, n, loss=5.0, burst=4.0):
    cfg = RM.radio_config({"seed": seed, "loss_pct": loss, "burst_len": burst})
    ge = RM.GilbertElliott(loss, burst, RM.node_rng(cfg, node, "loss:3"))
    return [ge.next_lost() for _ in range(n)]


def _bursts(pattern):
    runs, run = [], 0
    for lost in pattern:
        if lost:
            run += 1
        elif run:
            runs.append(run)
            run = 0
    return runs


@pytest.mark.parametrize("loss,burst", [(2.0, 3.0), (5.0, 4.0), (10.0, 1.5)])
def test_gilbert_elliott_long_run_loss_and_burst_length(loss, burst):
    p = _pattern(7, 1, 200_000, loss, burst)
    frac = sum(p) / len(p) * 100
    runs = _bursts(p)
    mean_burst = sum(runs) / len(runs)
    assert abs(frac - loss) < 0.12 * loss, frac
    assert abs(mean_burst - burst) < 0.1 * burst, mean_burst
    # bursty, not independent: P(lost | previous lost) is far above the loss rate
    after_loss = [b for a, b in zip(p, p[1:]) if a]
    assert sum(after_loss) / len(after_loss) > 0.3


def test_loss_pattern_is_a_function_of_seed_and_node():
    a = _pattern(11, 3, 5000)
    assert a == _pattern(11, 3, 5000)
    assert a != _pattern(12, 3, 5000)
    assert a != _pattern(11, 4, 5000)
    assert sum(a) > 0


def test_zero_loss_never_drops():
    assert not any(_pattern(1, 1, 10_000, loss=0.0))


def test_intervals_on_the_125ms_grid_within_range():
    cfg = RM.radio_config({"seed": 3})
    rng = RM.node_rng(cfg, 5, "interval")
    seen = [RM.pick_interval_s(cfg, rng) for _ in range(500)]
    assert min(seen) >= 7.5e-3 - 1e-12 and max(seen) <= 50e-3 + 1e-12
    assert all(abs(s / 1.25e-3 - round(s / 1.25e-3)) < 1e-9 for s in seen)
    assert len(set(seen)) > 20
    fixed = RM.node_settings(RM.radio_config({"per_node": {"2": {"interval_ms": [30, 30]}}}), 2)
    assert RM.pick_interval_s(fixed, rng) == pytest.approx(0.030)


def test_airtime_grows_with_payload_and_phy():
    a_small = RM.packet_airtime_s(20, 247, "2M")
    a_big = RM.packet_airtime_s(244, 247, "2M")
    assert a_big > a_small
    assert RM.packet_airtime_s(244, 247, "1M") > a_big
    # a full 244-byte notification on 2M PHY takes ~1.4 ms: 5 fit in a 7.5 ms event
    assert 1.2e-3 < a_big < 1.6e-3
    # with MTU 23 (no data length extension) a 20-byte notification is one 27-byte PDU
    assert RM.packet_airtime_s(20, 23, "1M") < RM.packet_airtime_s(244, 247, "1M")


def test_outages_scheduled_and_random_are_seeded():
    cfg = RM.radio_config({"seed": 9, "disconnects": [{"node": 2, "at_s": 5.0, "down_s": 1.0}], "random_disconnects_per_min": 6.0})
    o2 = RM.outages(cfg, 2, 120.0)
    assert (5.0, 1.0, "scheduled") in o2
    assert o2 == RM.outages(cfg, 2, 120.0)
    rand = [o for o in o2 if o[2] == "random"]
    assert 3 <= len(rand) <= 30  # Poisson, mean 12 over 2 minutes
    assert all(0.5 <= d <= 3.0 for _, d, _ in rand)
    assert RM.outages(cfg, 3, 120.0) != o2


@pytest.mark.parametrize(
    "bad,word",
    [
        ({"loss_pct": 100}, "loss_pct"),
        ({"burst_len": 0.5}, "burst_len"),
        ({"interval_ms": [5, 50]}, "interval_ms"),
        ({"lossy": 1}, "unknown radio setting"),
        ({"phy": "3M"}, "phy"),
        ({"disconnects": [{"node": 1}]}, "disconnects"),
        ({"per_node": {"1": {"seed": 2}}}, "per_node"),
    ],
)
def test_bad_settings_name_the_field(bad, word):
    with pytest.raises(ValueError, match=word):
        RM.radio_config(bad)
