"""Integer milliseconds since the epoch: exact sums and comparisons on the hot path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
NEVER = 2**62  # "no bound": later than any real instant, and still safe to add to
MS_PER_MINUTE = 60_000.0


def to_ms(at: datetime) -> int:
    """``at`` (timezone-aware) as whole milliseconds since the epoch."""
    return (at - EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    """Milliseconds since the epoch as a UTC datetime.

    ``fromtimestamp`` is twice as fast as adding a timedelta and exact to the
    millisecond (a float carries 15 significant digits; it rounds to microseconds).
    """
    return datetime.fromtimestamp(ms / 1000, UTC)


def read_ms(minutes: float, speed: float) -> int:
    """Reading time in milliseconds for a reader of ``speed`` (never 0).

    The router computes the same value with numpy (``rint`` also rounds half to even),
    so the fast path and the reference router agree to the millisecond.
    """
    return max(1, round(minutes * MS_PER_MINUTE / speed))
