"""Indexing after the answer: the fsynced file is the commit record, the index follows.

Before, each C-STORE waited for its own index transaction (a fifth of the handler's
time, more when senders queue on SQLite's write lock). Now the handler answers once the
file is durably in place, and `BatchIndexer` indexes what was answered, in batches of up
to `MAX_BATCH` per transaction, on a thread of its own. Nothing acknowledged can be
lost: a batch that fails is retried until it goes in, and what a kill -9 or a power cut
leaves unindexed is on disk, found and indexed at start-up
(`garde.dicom_gateway.intake.IntakeService.recover`).

While an instance waits here, `pending_path` answers for it, so a copy of the same SOP
Instance UID arriving meanwhile under another study is still refused before its answer.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from garde.dispatch.model import InstanceReceived
    from garde.dispatch.ports import InstanceIndex

logger = logging.getLogger(__name__)

MAX_BATCH = 256
RETRY_S = 0.5  # after a failed batch (database down, locked): try again this soon
# After the first instance of a batch, wait this long for more: one transaction for
# several instances, and the thread takes the interpreter lock from the associations
# less often. A transaction has a price of its own (a connection, one count update per
# series and study, the commit): at 0.05 s, one sender answered in 3 ms made batches of
# about 15 and that price was a third of the indexer's CPU. The wait delays only the
# index (dispatch hears of an instance 0.2 s after its answer at worst), never an
# answer: the file is durably in place first.
LINGER_S = 0.2


class BatchIndexer:
    """Indexes acknowledged instances in batches on its own thread.

    Parameters
    ----------
    index
        The store's `InstanceIndex`.
    on_indexed
        Called with each instance and whether it was new, after its batch committed
        (on the indexer's thread; its exceptions are logged).
    """

    def __init__(
        self,
        index: InstanceIndex,
        on_indexed: Callable[[InstanceReceived, bool], None],
        *,
        max_batch: int = MAX_BATCH,
        retry_s: float = RETRY_S,
        linger_s: float = LINGER_S,
    ) -> None:
        self._index = index
        self._on_indexed = on_indexed
        self._max_batch = max_batch
        self._retry_s = retry_s
        self._linger_s = linger_s
        self._queue: deque[InstanceReceived] = deque()
        self._pending: dict[str, str] = {}  # SOP Instance UID -> path, until indexed
        self._busy = 0  # instances taken off the queue, not yet indexed
        self._cond = threading.Condition()
        self._stopping = False
        self._flushing = 0  # callers waiting in `flush`: batches go without lingering
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the indexing thread."""
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="gateway-indexer", daemon=True)
            self._thread.start()

    def submit(self, instance: InstanceReceived) -> None:
        """Queue an instance whose file is durably in place (returns at once)."""
        with self._cond:
            self._pending[instance.sop_instance_uid] = instance.path
            self._queue.append(instance)
            self._cond.notify_all()

    def pending_path(self, sop_instance_uid: str) -> str | None:
        """The path of an instance answered but not yet indexed, or None."""
        with self._cond:
            return self._pending.get(sop_instance_uid)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted is indexed (at once, no lingering); False on
        timeout."""
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)
            finally:
                self._flushing -= 1

    def stop(self, timeout: float | None = None) -> None:
        """Index what is queued (up to ``timeout``), then stop the thread. What is left
        after the timeout is on disk and indexed at the next start."""
        if not self.flush(timeout):
            with self._cond:
                left = len(self._queue) + self._busy
            logger.warning("stopping with %d instances not yet indexed (indexed at start)", left)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._stopping)
                if self._stopping:
                    return
                if self._linger_s and not self._flushing:
                    self._cond.wait_for(
                        lambda: (
                            len(self._queue) >= self._max_batch or self._stopping or self._flushing
                        ),
                        self._linger_s,
                    )
                batch = [
                    self._queue.popleft() for _ in range(min(self._max_batch, len(self._queue)))
                ]
                self._busy = len(batch)
            try:
                results = self._index.record_many(batch)
            except Exception:  # a boundary: the batch is kept and tried again
                logger.exception("could not index %d instances; retrying", len(batch))
                with self._cond:
                    self._queue.extendleft(reversed(batch))
                    self._busy = 0
                    self._cond.wait(self._retry_s)
                continue
            with self._cond:
                for instance in batch:
                    if self._pending.get(instance.sop_instance_uid) == instance.path:
                        del self._pending[instance.sop_instance_uid]
                self._busy = 0
                self._cond.notify_all()
            for instance, new in zip(batch, results, strict=True):
                try:
                    self._on_indexed(instance, new)
                except Exception:
                    logger.exception("after indexing %s", instance.sop_instance_uid)
