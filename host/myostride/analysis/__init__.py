"""Gait-cycle activation analysis: inputs -> events -> conditioning -> bursts -> cycles -> JSON.

`load_input(path, ...)` reads a session directory, a C3D file or a CSV export into a Recording
with channels mapped to muscles; `pipeline.analyse(recording)` returns the analysis JSON
(schema "myostride.analysis/1", docs/analysis.md); `plots.muscle_figure(channel_result)` draws
the per-muscle figure the report embeds.
"""

import os

from ..errors import UserError
from .channels import assign_muscles, parse_map, read_map_file


def load_input(path, maps=(), side=None, gyro=None, units=None, events_csv=None, map_file=None):
    """Recording for a session directory, .c3d or .csv, with channels mapped and events attached.

    map_file: a pyCGM2-style emg.settings (YAML) or label,side,muscle CSV; --map items win."""
    from . import inputs_csv
    from .units import unit_factor

    if units is not None and unit_factor(units) is None:
        raise UserError("unknown --emg-units %r; use V, mV or uV" % units)
    file_items = read_map_file(map_file) if map_file else []
    mapping = parse_map(file_items)
    mapping.update(parse_map(maps))
    if os.path.isdir(path):
        from .inputs_session import load_session_dir
        rec = load_session_dir(path)
    elif not os.path.exists(path):
        raise UserError("no such file or directory: %s; give a session directory, a .c3d file or a .csv file" % path)
    else:
        ext = os.path.splitext(path)[1].lower()
        if ext == ".c3d":
            from .inputs_c3d import load_c3d
            rec = load_c3d(path, mapping, gyro, units)
        elif ext == ".csv":
            rec = inputs_csv.load_emg_csv(path, units)
            sibling = events_csv or inputs_csv.sibling_events_csv(path)
            if sibling and not events_csv:
                rec.warnings.append("events read from %s" % os.path.basename(sibling))
                events_csv = sibling
        else:
            raise UserError("cannot analyse %s: expected a session directory, a .c3d file or a .csv file" % path)
    if gyro and rec.kind != "c3d":
        raise UserError("--gyro names C3D channels; this input is a %s" % rec.kind)
    assign_muscles(rec, mapping, default_side=side)
    if events_csv:
        rec.events = inputs_csv.load_events_csv(events_csv, default_side=side or _only_side(rec))
        rec.event_info = {"origin": "events CSV %s" % os.path.basename(events_csv), "ignored_labels": [],
                          "unknown_side": [], "warnings": [], "convention": "events CSV"}
    return rec


def _only_side(rec):
    sides = set(ch.side for ch in rec.emg if ch.side)
    return sides.pop() if len(sides) == 1 else None
