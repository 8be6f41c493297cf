"""Segment IMU and footswitch signals consistent with the patient's gait events.

Sensor frame (same on both legs): x anterior, y up along the segment, z lateral.
Sagittal rotation is about z, so gz carries the gait pattern; positive gz is the
segment swinging forward. On the shank (Aminian 2002 and later): a large
mid-swing peak, toe off and foot strike as the neighbouring minima, a small
positive hump in mid stance. On the thigh: a smaller, earlier swing peak and
negative velocity through stance. The accelerometer sees gravity rotated by the
segment angle, tangential/centripetal acceleration and a contact impact.

Units on the node: acceleration in mg, angular rate in 0.1 deg/s (int16).
"""

import numpy as np

SHANK_SWING_PEAK_DPS = 330.0
SHANK_TO_DIP_DPS = 140.0
SHANK_FS_DIP_DPS = 110.0
SHANK_STANCE_DPS = 55.0
THIGH_SWING_PEAK_DPS = 190.0
THIGH_STANCE_DPS = -45.0
SEGMENT_RADIUS_M = 0.30
G_MG = 1000.0
IMPACT_MG = 1800.0
GYRO_NOISE_DPS = 0.8
ACC_NOISE_MG = 8.0


def _gauss(t, c, sd):
    return np.exp(-0.5 * ((t - c) / sd) ** 2)


def sagittal_gyro_dps(t_s, side_gait, segment="shank"):
    """Sagittal angular velocity (deg/s) of the shank or thigh at global times t_s."""
    t = np.asarray(t_s, dtype=float)
    g = side_gait
    out = np.zeros(len(t))
    k = g.swing_gyro_scale
    for i in range(g.strides):
        hs, to, hs2 = g.foot_strike_s[i], g.foot_off_s[i], g.foot_strike_s[i + 1]
        stance, swing = to - hs, hs2 - to
        i0, i1 = np.searchsorted(t, (hs - 0.3, hs2 + 0.3))
        tt = t[i0:i1]
        if segment == "shank":
            fs_dip = SHANK_FS_DIP_DPS * (0.45 if g.toe_walking else 1.0)
            fs_sd = 0.035 if g.toe_walking else 0.022
            w = (k * SHANK_SWING_PEAK_DPS * _gauss(tt, to + 0.5 * swing, 0.19 * swing)
                 - SHANK_TO_DIP_DPS * _gauss(tt, to, 0.03)
                 - fs_dip * _gauss(tt, hs2, fs_sd)
                 + SHANK_STANCE_DPS * _gauss(tt, hs + 0.5 * stance, 0.2 * stance))
        else:
            w = (k * THIGH_SWING_PEAK_DPS * _gauss(tt, to + 0.35 * swing, 0.22 * swing)
                 + THIGH_STANCE_DPS * _gauss(tt, hs + 0.5 * stance, 0.3 * stance))
        out[i0:i1] += w
    return out


def imu_codes(t_s, side_gait, rng, segment="shank"):
    """(n, 6) int16 IMU samples (ax, ay, az mg; gx, gy, gz 0.1 deg/s) at global times t_s."""
    t = np.asarray(t_s, dtype=float)
    n = len(t)
    gz = sagittal_gyro_dps(t, side_gait, segment)
    dt = np.diff(t, prepend=t[0] - (t[1] - t[0] if n > 1 else 0.01))
    angle = np.cumsum(gz * dt)
    # Remove the slow integration drift: the segment angle oscillates about its mean.
    win = max(1, int(round(2.0 / float(np.median(dt))))) if n > 1 else 1
    kernel = np.ones(win) / win
    angle = angle - np.convolve(np.pad(angle, (win // 2, win - 1 - win // 2), mode="edge"), kernel, "valid")
    th = np.radians(angle + (5.0 if segment == "shank" else -5.0))
    w = np.radians(gz)
    dw = np.gradient(w, t) if n > 1 else np.zeros(n)
    tangential_mg = SEGMENT_RADIUS_M * dw / 9.81 * G_MG
    centripetal_mg = SEGMENT_RADIUS_M * w * w / 9.81 * G_MG
    ax = G_MG * np.sin(th) + tangential_mg
    ay = G_MG * np.cos(th) + centripetal_mg
    az = 40.0 * np.sin(2 * th)
    for c in side_gait.foot_strike_s:
        i0, i1 = np.searchsorted(t, (c, c + 0.12))
        if i1 > i0:
            d = t[i0:i1] - c
            imp = IMPACT_MG * (0.5 if side_gait.toe_walking else 1.0) * rng.uniform(0.7, 1.2)
            if segment != "shank":
                imp *= 0.4
            ay[i0:i1] += imp * np.exp(-d / 0.02) * np.cos(2 * np.pi * 25.0 * d)
            ax[i0:i1] -= 0.4 * imp * np.exp(-d / 0.02)
    gx = 0.12 * gz + GYRO_NOISE_DPS * rng.standard_normal(n)
    gy = -0.08 * gz + GYRO_NOISE_DPS * rng.standard_normal(n)
    gz = gz + GYRO_NOISE_DPS * rng.standard_normal(n)
    acc = np.stack([ax, ay, az]) + ACC_NOISE_MG * rng.standard_normal((3, n))
    out = np.empty((n, 6))
    out[:, 0:3] = acc.T
    out[:, 3] = gx * 10.0
    out[:, 4] = gy * 10.0
    out[:, 5] = gz * 10.0
    return np.clip(np.rint(out), -32768, 32767).astype("<i2")


def footswitch_edges(side_gait, start_s, end_s, heel_off_pct=35.0, forefoot_on_pct=8.0):
    """Footswitch edges [(t_s, input, level)] sorted: input 0 heel, input 1 forefoot.

    Heel contact runs from foot strike to heel rise (~35 % of the cycle); the
    forefoot from ~8 % to toe off. Toe walkers never close the heel switch and
    land on the forefoot.
    """
    g = side_gait
    edges = []
    for i in range(g.strides):
        hs, to, hs2 = g.foot_strike_s[i], g.foot_off_s[i], g.foot_strike_s[i + 1]
        cyc = hs2 - hs
        if g.toe_walking:
            edges += [(hs, 1, 1), (to, 1, 0)]
        else:
            edges += [(hs, 0, 1), (hs + cyc * heel_off_pct / 100.0, 0, 0),
                      (hs + cyc * forefoot_on_pct / 100.0, 1, 1), (to, 1, 0)]
    return sorted((float(t), i, lv) for t, i, lv in edges if start_s <= t <= end_s)
