"""Fault injection at the radio boundary: a sim Backend whose bleak client misbehaves on purpose.

The recorder sees only the public Backend contract (acquire/backends.py), so these faults
reach it exactly where a real radio's would: a STOP that never reaches a node, replies and
data that arrive as garbage, GATT operations that are slow.
"""

import asyncio
import random

from myosim.backend import SimClient
from myostride.acquire.backends import SimBackend
from myowire import codec

HDR = 16  # codec.HEADER_SIZE: the opcode of a whole command frame follows the header


class FaultPlan:
    """What to break. Node ids; shared by every client of one backend."""

    def __init__(self, silent_stop=(), garbage=(), garbage_every=4, gatt_delay_s=0.0, seed=0, lost_configure=None):
        self.silent_stop = set(silent_stop)  # STOP to these nodes is swallowed: they never answer it
        # {node: n}: the first n CONFIGUREs to the node are lost (to the host, the same as n lost acks)
        self.lost_configure = dict(lost_configure or {})
        self.garbage = set(garbage)  # every garbage_every-th notification from these is random bytes
        self.garbage_every = garbage_every
        self.gatt_delay_s = gatt_delay_s  # added to every GATT operation (a slow radio)
        self.rng = random.Random(seed)
        self.swallowed = []  # (node_id, opcode) writes dropped
        self.garbled = 0


class FaultyClient(SimClient):
    plan = None  # set by FaultyBackend

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._node = None
        self._notes = 0

    async def _gatt(self, *a, **kw):
        if self.plan.gatt_delay_s:
            await asyncio.sleep(self.plan.gatt_delay_s)
        return await super()._gatt(*a, **kw)

    async def write_gatt_char(self, characteristic, data, response):
        d = bytes(data)
        if len(d) > HDR and d[0] == (codec.VERSION << 4 | codec.T_CMD):
            self._node = d[1]
            if d[1] in self.plan.silent_stop and d[HDR] == codec.C_STOP:
                self.plan.swallowed.append((d[1], d[HDR]))
                return  # "written": the node never hears it
            if d[HDR] == codec.C_CONFIGURE and self.plan.lost_configure.get(d[1], 0) > 0:
                self.plan.lost_configure[d[1]] -= 1
                self.plan.swallowed.append((d[1], d[HDR]))
                return
        await super().write_gatt_char(characteristic, data, response)

    async def start_notify(self, characteristic, callback, **kwargs):
        plan = self.plan

        def maybe_garbled(data):
            if self._node in plan.garbage:
                self._notes += 1
                if self._notes % plan.garbage_every == 0:
                    plan.garbled += 1
                    data = bytearray(plan.rng.randbytes(len(data)))
            callback(data)

        await super().start_notify(characteristic, maybe_garbled, **kwargs)


class FaultyBackend(SimBackend):
    def __init__(self, world, plan):
        super().__init__(world)
        self.plan = plan
        self.client_backend = type("FaultyClientFor", (FaultyClient,), {"plan": plan})
