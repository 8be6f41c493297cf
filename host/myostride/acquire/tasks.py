"""Owners for background tasks: nothing the recorder starts can outlive it or hang its end.

Why not asyncio.wait_for: on Python 3.11 it can swallow a cancellation when the
awaited thing finishes at the same moment, so a loop outlives its cancel and
whoever awaits it waits for ever. Why not a bare asyncio.TaskGroup: its exit
awaits its tasks without a bound. Here every wait goes through asyncio.wait(),
which returns after its timeout whatever the tasks do, and loops also end on
their owner's flag (so a swallowed cancellation still ends them).
"""

import asyncio


class TaskOwner:
    """Starts tasks, keeps them, and on close() cancels and awaits them with a time bound."""

    def __init__(self, on_error=None):
        self.tasks = set()
        self.closed = False
        self.errors = []  # exceptions of tasks that failed (not cancelled)
        self.on_error = on_error  # (task name, exception) -> None

    def spawn(self, coro, name=None):
        """Run coro as an owned task; None (coro closed) once the owner is closing."""
        if self.closed:
            coro.close()
            return None
        t = asyncio.get_running_loop().create_task(coro, name=name)
        self.tasks.add(t)
        t.add_done_callback(self._done)
        return t

    def _done(self, t):
        self.tasks.discard(t)
        if t.cancelled():
            return
        exc = t.exception()
        if exc is not None:
            self.errors.append(exc)
            if self.on_error is not None:
                self.on_error(t.get_name(), exc)

    async def close(self, bound_s):
        """Cancel every task and wait for them, at most bound_s; returns the names of any that would not end."""
        self.closed = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + bound_s
        while self.tasks:
            pending = set(self.tasks)
            for t in pending:
                t.cancel()  # again each round: a cancellation swallowed once is delivered again
            left = deadline - loop.time()
            if left <= 0:
                break
            await asyncio.wait(pending, timeout=min(left, 0.2))
        return sorted(t.get_name() for t in self.tasks)


async def bounded(coro, bound_s):
    """Await coro for at most bound_s: (True, result) or (False, None) after cancelling it.

    The caller's own cancellation is never swallowed: it cancels coro and propagates."""
    t = asyncio.ensure_future(coro)
    try:
        done, _ = await asyncio.wait({t}, timeout=bound_s)
    except asyncio.CancelledError:
        t.cancel()
        raise
    if t in done:
        return True, t.result()
    t.cancel()
    await asyncio.wait({t}, timeout=0.5)  # let it run its cleanup; never longer
    return False, None
