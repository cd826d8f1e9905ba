"""Two workarounds that keep the chapters' kernels from stalling the build.

myst-nb executes each chapter with ``nbclient``, which talks to the kernel
through ``jupyter_client``'s asyncio channels. On this project's machines two
stalls were seen, both with every cell's output already received:

1. **A reply noticed only at the deadline.** ``get_msg(timeout)`` waits in
   ``socket.poll(timeout)``, which asyncio wakes through ZeroMQ's
   edge-triggered file descriptor. When that wake-up is missed (seen in about
   half the runs of a cell that opens ipywidgets, and now and then
   elsewhere), the reply sits in the socket until the poll times out: the
   cell's whole ``timeout`` (two minutes in the build), or forever for the
   output channel, which waits without one. Here every wait is cut into
   slices of :data:`POLL_SLICE` seconds; each slice ends with a fresh look at
   the socket, so a missed wake-up costs at most one slice.
2. **A graceful shutdown left unanswered.** Nothing is left to save once the
   last output has arrived, so the kernel is stopped at once.

:func:`install` applies both; it is the Sphinx ``setup`` of this extension
and ``book/_scripts/chapter_times.py`` calls it too. Load it from
``_config.yml``::

    sphinx:
      local_extensions:
        kernel_client: book/_ext
"""
from __future__ import annotations

import time
from queue import Empty
from typing import Any

#: Longest single wait on a kernel channel, in seconds.
POLL_SLICE = 0.5


def _sliced(get_msg):
    async def get_msg_in_slices(self, timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = POLL_SLICE if deadline is None else deadline - time.monotonic()
            try:
                return await get_msg(self, timeout=max(0.0, min(POLL_SLICE, left)))
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    get_msg_in_slices.sliced = True
    return get_msg_in_slices


def install() -> None:
    """Poll kernel channels in slices and stop kernels immediately (idempotent)."""
    from jupyter_client.channels import AsyncZMQSocketChannel
    from nbclient import NotebookClient

    if not getattr(AsyncZMQSocketChannel.get_msg, "sliced", False):
        AsyncZMQSocketChannel.get_msg = _sliced(AsyncZMQSocketChannel.get_msg)
    NotebookClient.class_traits()["shutdown_kernel"].default_value = "immediate"


def setup(app: Any) -> dict[str, Any]:
    """Sphinx entry point."""
    install()
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
