"""Channel map: which node sits on which muscle of which side (`--map NODE=SIDE:MUSCLE`)."""

from .. import muscles
from ..errors import UserError

MAX_NODES = 12


class NodeMap:
    """One mapped node: node id 1-254, side, muscle, channel label."""

    __slots__ = ("node_id", "side", "muscle", "label")

    def __init__(self, node_id, side, muscle, label=None):
        self.node_id = node_id
        self.side = side
        self.muscle = muscle
        self.label = label or "node%02d" % node_id

    def to_json(self):
        return {"node_id": self.node_id, "side": self.side, "muscle": self.muscle, "label": self.label}

    def short_label(self):
        """Up to 16 bytes for the node's own config (C_CONFIGURE label)."""
        return ("%s_%s" % (self.side[0].upper(), self.muscle))[:16]


def parse_map_item(text):
    """'3=left:tibialis_anterior' -> NodeMap; UserError naming what is allowed."""
    if "=" not in text or ":" not in text.split("=", 1)[1]:
        raise UserError("bad --map %r: write NODE=SIDE:MUSCLE, e.g. 3=left:tibialis_anterior" % text)
    node_s, rest = text.split("=", 1)
    side_s, muscle_s = rest.split(":", 1)
    try:
        node_id = int(node_s.strip().lower().replace("node", "").replace("myo-", ""))
    except ValueError:
        raise UserError("bad node id %r in --map %r: use the number `myostride scan` lists (1-254)" % (node_s, text))
    if not 1 <= node_id <= 254:
        raise UserError("node id %d in --map %r is out of range: node ids are 1-254" % (node_id, text))
    try:
        side = muscles.check_side(side_s)
    except ValueError:
        raise UserError("unknown side %r in --map %r: use left or right" % (side_s, text))
    try:
        muscle = muscles.check_muscle(muscle_s)
    except ValueError:
        raise UserError("unknown muscle %r in --map %r; use one of: %s" % (muscle_s, text, ", ".join(muscles.MUSCLES)))
    return NodeMap(node_id, side, muscle)


def parse_mapping(items):
    """List of map strings (or NodeMap) -> list of NodeMap, checked as a whole."""
    out = [i if isinstance(i, NodeMap) else parse_map_item(i) for i in items]
    check_mapping(out)
    return out


def check_mapping(maps):
    if not maps:
        raise UserError("no nodes mapped: give at least one --map NODE=SIDE:MUSCLE (see `myostride scan` for node ids)")
    if len(maps) > MAX_NODES:
        raise UserError("%d nodes mapped; myostride records at most %d nodes (CPT 96002 covers 1-12 muscles): drop %d --map options"
                        % (len(maps), MAX_NODES, len(maps) - MAX_NODES))
    seen_nodes = {}
    seen_muscles = {}
    for m in maps:
        if m.node_id in seen_nodes:
            raise UserError("node %d is mapped twice (%s:%s and %s:%s): one node records one muscle"
                            % (m.node_id, seen_nodes[m.node_id].side, seen_nodes[m.node_id].muscle, m.side, m.muscle))
        seen_nodes[m.node_id] = m
        key = (m.side, m.muscle)
        if key in seen_muscles:
            raise UserError("%s %s is mapped to both node %d and node %d: map each muscle once"
                            % (m.side, m.muscle, seen_muscles[key], m.node_id))
        seen_muscles[key] = m.node_id
    return maps
