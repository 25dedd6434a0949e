"""Solvers the isolated re-planner's child calls in tests (importable by a spawned child)."""

from __future__ import annotations

import os
import time
from typing import Any

from garde.dispatch.optimizer import ReplanResult, SolverSettings, replan


def aborts_with_presolve(*args: Any, settings: SolverSettings, **kwargs: Any) -> ReplanResult:
    """CP-SAT's failure mode: a native abort in presolve; the real solve without it."""
    if settings.presolve:
        os.abort()
    return replan(*args, settings=settings, **kwargs)


def always_aborts(*_args: Any, **_kwargs: Any) -> ReplanResult:
    """A solver that kills its process whatever it is asked."""
    os.abort()


def never_answers(*_args: Any, **_kwargs: Any) -> ReplanResult:
    """A solver stuck in native code (a deadlock)."""
    time.sleep(3600)
    raise AssertionError("unreachable")


def raises(*_args: Any, **_kwargs: Any) -> ReplanResult:
    """A solver that fails as Python code does."""
    raise ValueError("no reader on shift")
