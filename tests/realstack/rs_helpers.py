"""Shared set-up for the real-stack tests: a scenario, its world on NimBLE + Bumble, a recording."""

import asyncio
from pathlib import Path

from myosim import nodefiles
from myosim.realstack.world import RealWorld
from myosim.scenario import build_scenario

from myostride.acquire.recorder import Recorder


def real_world(tmp_path, nodes, exe, seconds=60.0, radio=None, seed=1, centrals=1):
    d = Path(tmp_path)
    sc = build_scenario(d / "sim", nodes=nodes, condition="normal", seconds=seconds, seed=seed)
    nodefiles.write_world(sc.world_path, d / "sim" / "air.sock", d / "sim" / "host.sock", seconds)
    return sc, RealWorld(sc.node_jsons, sc.world_path, radio or {}, centrals=centrals, exe=exe)


def mapping_for(sc):
    return ["%d=%s:%s" % (n["node_id"], n["side"], n["muscle"]) for n in sc.truth["nodes"]]


def record(sc, world, out, seconds, **kw):
    rec = Recorder(out, mapping_for(sc), seconds, backend="bumble", world=str(world.world_json), **kw)

    async def go():
        async with asyncio.timeout(seconds + 90):
            return await rec.run(None)

    return asyncio.run(go())


def node_logs(world):
    return "\n".join("--- %s\n%s" % (p, p.read_text(errors="replace")[-1500:]) for p in world.node_logs if p.exists())
