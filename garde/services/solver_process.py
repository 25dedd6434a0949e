"""CP-SAT in a process of its own: a native abort in the solver costs one re-plan, not serve.

OR-Tools' CP-SAT ends the whole process when one of its internal checks fails (seen with
9.15 in a 300-night benchmark run: ``Check failed: context_->VarToConstraints(var).empty()``
in presolve). In serve's leader that would take stroke dispatch down with the re-plan, so
the leader's re-plan solves in a child process: the inputs and the result are plain data.
If the child dies, the same re-plan is tried once more without presolve (where that check
lives); if that dies too, this re-plan is skipped and the queues stay as the router placed
them. A child that does not answer well past the solver's time limit is killed the same way.

The child is started on first use and kept for the next re-plans (``spawn``: serve's
process has threads, which ``fork`` would copy half-way).
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from datetime import datetime
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from garde.dispatch.model import SlaPolicy, Study
    from garde.dispatch.optimizer import ReaderCapacity, ReplanResult, SolverSettings

logger = logging.getLogger(__name__)

ANSWER_GRACE_S = 30.0
"""How long past the solver's own time limit a silent child is given before it is killed."""


class Replanner(Protocol):
    """`optimizer.replan`'s signature, as the re-plan service calls it."""

    def __call__(
        self,
        studies: Sequence[Study],
        radiologists: Sequence[ReaderCapacity],
        current_plan: Mapping[str, Sequence[str]],
        now: datetime,
        policy: SlaPolicy,
        *,
        settings: SolverSettings | None = None,
        pinned: Mapping[str, str] | None = None,
        barred: Mapping[str, str] | None = None,
    ) -> ReplanResult:
        """Re-plan (see `garde.dispatch.optimizer.replan`)."""
        ...


class SolverDiedError(RuntimeError):
    """The solver's process died (or went silent) on both tries: this re-plan is skipped."""


class _ChildDiedError(Exception):
    """One try's child died; the message says how."""


def _serve(conn: Connection) -> None:  # pragma: no cover - runs in the child
    """The child's loop: solve each request, answer with the result or the error's text."""
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        target, args, kwargs = request
        try:
            conn.send(("ok", target(*args, **kwargs)))
        except Exception as exc:  # noqa: BLE001 - the parent re-raises it with its text
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class IsolatedReplanner:
    """A `Replanner` whose CP-SAT runs in a child process (see the module's docstring).

    ``target`` is what the child calls (`optimizer.replan` when None; a test passes one that
    dies). Thread-safe: one re-plan at a time uses the child. OR-Tools is imported on the
    first re-plan: every CLI command builds a runtime, and importing it costs half a second.
    """

    def __init__(
        self,
        target: Callable[..., ReplanResult] | None = None,
        *,
        grace_s: float = ANSWER_GRACE_S,
    ) -> None:
        self._target = target
        self._grace_s = grace_s
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._child: BaseProcess | None = None
        self._conn: Connection | None = None

    def __call__(
        self,
        studies: Sequence[Study],
        radiologists: Sequence[ReaderCapacity],
        current_plan: Mapping[str, Sequence[str]],
        now: datetime,
        policy: SlaPolicy,
        *,
        settings: SolverSettings | None = None,
        pinned: Mapping[str, str] | None = None,
        barred: Mapping[str, str] | None = None,
    ) -> ReplanResult:
        """Re-plan in the child; retry without presolve if it dies; else `SolverDiedError`."""
        from garde.dispatch.optimizer import SolverSettings, replan  # noqa: PLC0415 - see above

        if self._target is None:
            self._target = replan
        settings = settings or SolverSettings()
        args = (studies, radiologists, current_plan, now, policy)
        extra = {"pinned": pinned, "barred": barred}
        with self._lock:
            try:
                return self._solve(args, {**extra, "settings": settings})
            except _ChildDiedError as died:
                logger.error(  # noqa: TRY400 - the traceback would be ours, not the child's
                    "re-plan: the CP-SAT process died (%s); trying once more without presolve",
                    died,
                )
            try:
                return self._solve(args, {**extra, "settings": replace(settings, presolve=False)})
            except _ChildDiedError as died:
                raise SolverDiedError(
                    f"the CP-SAT process died again without presolve ({died}): this re-plan "
                    "is skipped and the queues stay as the router placed them"
                ) from None

    def close(self) -> None:
        """Stop the child (serve's shutdown)."""
        with self._lock:
            self._stop()

    def _solve(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> ReplanResult:
        conn = self._started()
        settings: SolverSettings = kwargs["settings"]
        try:
            conn.send((self._target, args, kwargs))
            if not conn.poll(settings.time_limit_s + self._grace_s):
                self._stop()
                raise _ChildDiedError(
                    f"no answer {settings.time_limit_s + self._grace_s:.0f} s after asking"
                )
            status, value = conn.recv()
        except (EOFError, OSError):
            raise _ChildDiedError(self._how_it_ended()) from None
        if status == "error":
            raise RuntimeError(f"re-plan failed in the solver's process: {value}")
        result: ReplanResult = value
        return result

    def _started(self) -> Connection:
        if self._child is not None and self._child.is_alive() and self._conn is not None:
            return self._conn
        self._stop()
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_serve, args=(child,), name="garde-cpsat", daemon=True
        )
        process.start()
        child.close()
        self._child, self._conn = process, parent
        return parent

    def _how_it_ended(self) -> str:
        child = self._child
        code = None
        if child is not None:
            child.join(timeout=5)
            code = child.exitcode
        self._stop()
        if code is not None and code < 0:
            return f"ended by {signal.Signals(-code).name}"
        return f"exit code {code}"

    def _stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._child is not None:
            if self._child.is_alive():
                self._child.kill()
            self._child.join(timeout=5)
        self._child = self._conn = None
