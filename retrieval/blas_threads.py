"""Run a retrieval's matrix products on one BLAS thread.

A query multiplies the item matrix by a handful of vectors (dense search, the two-tower's content score,
neighbours): memory-bound products that a second OpenBLAS thread barely speeds up on a quiet machine,
and that get ~10x slower when the cores are shared (OpenBLAS threads spin-wait on each other: 25 ms
instead of 2.5 ms for 17k x 384, measured on the 2-core dev box under load). Concurrent requests already
use the cores.

:func:`one_blas_thread` is reference-counted across threads: the limit is set when the first retrieval
starts and the original thread count restored when the last one ends, so training code that runs
between queries keeps its threads.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

_lock = threading.Lock()
_active = 0
_limit: Any = None  # the threadpoolctl limiter while any retrieval runs
_controller: Any = None


def _get_controller() -> Any:
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller


@contextlib.contextmanager
def one_blas_thread(enabled: bool = True) -> Iterator[None]:
    """Within the block (and any other thread's such block), BLAS runs on one thread."""
    global _active, _limit
    if not enabled:
        yield
        return
    with _lock:
        if _active == 0:
            try:
                _limit = _get_controller().limit(limits=1, user_api="blas")
            except Exception as exc:  # noqa: BLE001 - an unknown BLAS: run as it is
                log.debug("cannot limit BLAS threads: %s", exc)
                _limit = None
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _limit is not None:
                _limit.restore_original_limits()
                _limit = None


__all__ = ["one_blas_thread"]
