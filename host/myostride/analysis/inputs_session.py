"""Read a myostride session directory through the session API (myostride.session.load_session).

Session times are host-clock seconds from the session start; gaps the nodes could not resend
and lead-off spans come with each channel. A node's IMU or footswitch belongs to the side of
the EMG channel on the same node (shank muscles preferred for the IMU).
"""

import os

from ..errors import UserError
from .channels import EmgInput, GyroInput, Recording
from ..muscles import SHANK_MUSCLES


def load_session_dir(path):
    """Recording (kind "session") from a session directory."""
    if not os.path.isdir(path):
        raise UserError("no such session directory: %s" % path)
    try:
        from ..session import load_session
    except ImportError:
        raise UserError("this build has no session reader (myostride.session); analyse a C3D or CSV export instead")
    session = load_session(path)
    rec = Recording("session", path, time_origin_s=0.0)
    rec.meta = {"session": {k: v for k, v in dict(session.meta).items() if isinstance(v, (str, int, float, bool))}}
    node_side = {}
    for ch in session.channels:
        uv = ch.uv
        rec.emg.append(EmgInput(ch.label, ch.fs_hz, ch.t_s, uv, side=ch.side, muscle=ch.muscle,
                                gaps=ch.gaps, lead_off=ch.lead_off, units_note="session microvolts"))
        best = node_side.get(ch.node_id)
        if ch.side and (best is None or (ch.muscle in SHANK_MUSCLES and best[1] not in SHANK_MUSCLES)):
            node_side[ch.node_id] = (ch.side, ch.muscle)
    if not rec.emg:
        raise UserError("session %s has no EMG channels; record with at least one EMG node" % path)
    for node_id, stream in sorted((getattr(session, "imu", None) or {}).items()):
        side_muscle = node_side.get(node_id)
        if side_muscle is None or len(stream.t_s) < 2:
            continue
        side, muscle = side_muscle
        if side in rec.gyro and muscle not in SHANK_MUSCLES:
            continue
        rec.gyro[side] = GyroInput("node %s gyro" % node_id, stream.t_s, stream.gyro_dps)
    for node_id, edges in sorted((getattr(session, "footswitch", None) or {}).items()):
        side_muscle = node_side.get(node_id)
        if side_muscle is None or not edges:
            continue
        rec.footswitch.setdefault(side_muscle[0], []).extend((float(t), int(i), int(v)) for t, i, v in edges)
    for side in rec.footswitch:
        rec.footswitch[side].sort()
    return rec
