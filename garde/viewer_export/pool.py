"""A pool that renders previews off the gateway's threads, most urgent first.

Threads, not processes: a job needs no pickling and shares the process's caches. The
codecs, the table gather and Pillow release the GIL, but pydicom's header parsing (about
a third of a slice) holds it, so a second thread adds little on a 2-core machine
(``benchmarks/preview.py``, ``pool_4_studies_s``). With several gateway workers the
intake runs in other processes; with one, it shares the GIL with these threads but never
waits for them. `submit` never blocks: the queue is unbounded.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Self, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

logger = logging.getLogger(__name__)

T = TypeVar("T")


class PoolClosedError(RuntimeError):
    """A job was submitted after `PreviewPool.shutdown`."""


class PreviewPool:
    """Worker threads taking jobs by priority rank (0 first), then in submission order.

    Parameters
    ----------
    workers
        Number of threads (at least 1).
    name
        Thread name prefix, for logs and debuggers.
    """

    def __init__(self, workers: int = 2, *, name: str = "preview") -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self._heap: list[tuple[int, int, Future[Any], Callable[[], Any]]] = []
        self._counter = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, priority_rank: int, job: Callable[[], T]) -> Future[T]:
        """Queue ``job``; returns at once with a future of its result (or exception)."""
        future: Future[T] = Future()
        with self._cond:
            if self._closed:
                raise PoolClosedError("the preview pool is shut down")
            heapq.heappush(self._heap, (priority_rank, next(self._counter), future, job))
            self._cond.notify()
        return future

    @property
    def pending(self) -> int:
        """Jobs queued and not yet started."""
        with self._cond:
            return len(self._heap)

    def shutdown(self, *, wait: bool = True, cancel_pending: bool = False) -> None:
        """Stop taking jobs; finish the queue (or cancel it) and join the workers."""
        with self._cond:
            self._closed = True
            if cancel_pending:
                for _, _, future, _ in self._heap:
                    future.cancel()
                self._heap.clear()
            self._cond.notify_all()
        if wait:
            for thread in self._threads:
                thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def _work(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._heap or self._closed)
                if not self._heap:
                    return
                _, _, future, job = heapq.heappop(self._heap)
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = job()
            except BaseException as exc:  # noqa: BLE001 - delivered to the caller's future
                future.set_exception(exc)
            else:
                future.set_result(result)
