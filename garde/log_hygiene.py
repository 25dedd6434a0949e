"""Log lines a network peer cannot forge, carrying no patient data.

Two things reach Garde's logs from the network unchecked: pydicom's and pynetdicom's
warnings about non-conformant values quote the value itself (``Invalid value for VR IS:
'<a PatientID>'``, ``Non-conformant 'Affected SOP Instance UID' value '<a UID>'``), and
any text a peer sends may hold control characters: a newline in a UID forges a whole
log line, a NUL goes raw into the file.

`NetworkTextFilter`, on a handler, rewrites each record before it is formatted:

- a warning from pydicom or pynetdicom (or a Python warning) keeps its words and loses
  its quoted values (``Invalid value for VR IS: <value withheld>``);
- every message has its control characters escaped (``\\n``, ``\\x00``, ...), so a
  record is one line whatever a peer sent;
- a record's traceback keeps its frames (code) line by line, and the lines of each
  exception's own text (``ValueError: <its message>``, notes), which a peer may have
  chosen, are escaped the same way (and lose their quoted values as a library
  warning does).

`install` puts it on every handler of the root logger and routes Python warnings
through logging (pydicom warns and logs each problem: the warning is dropped, the log
record kept). The CLI's logging set-up and each gateway worker call it.
"""

from __future__ import annotations

import logging
import re
import traceback
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Generator

WITHHELD = "<value withheld>"

# Quoted values, as pydicom (repr) and pynetdicom (f"'{value}'") quote them.
_QUOTED = re.compile(r"""'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|'[^']*'""")
# C0 controls, DEL, C1 controls and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_VALUE_LOGGERS = ("pydicom", "pynetdicom", "py.warnings")


def escape_controls(text: str) -> str:
    """``text`` with each control character escaped: one line, no NUL, no terminal codes."""
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match[0]
    code = ord(char)
    return _ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def withhold_values(text: str) -> str:
    """``text`` with every quoted value replaced by `WITHHELD`."""
    return _QUOTED.sub(WITHHELD, text)


def _from_library(name: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in _VALUE_LOGGERS)


def safe_traceback(exc: BaseException, *, withhold: bool = False) -> str:
    """``exc``'s traceback as `logging.Formatter.formatException` writes it, each
    exception's own text escaped (and its quoted values withheld if ``withhold``)."""
    summary = traceback.TracebackException.from_exception(exc)
    seen: set[int] = set()
    pending = [summary]
    while pending:  # the chain: causes, contexts and the members of exception groups
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        # On this instance only: `format` asks each exception of the chain for its lines.
        current.format_exception_only = _escaped_lines(  # type: ignore[method-assign]
            current.format_exception_only, withhold=withhold
        )
        pending.extend(
            e
            for e in (current.__cause__, current.__context__, *(current.exceptions or ()))
            if e is not None
        )
    return "".join(summary.format()).removesuffix("\n")


def _escaped_lines(
    lines: Callable[..., Generator[str]], *, withhold: bool
) -> Callable[..., Generator[str]]:
    """``format_exception_only`` with each line escaped (its arguments vary by Python)."""

    def escaped(*args: Any, **kwargs: Any) -> Generator[str]:
        for line in lines(*args, **kwargs):
            text = line.removesuffix("\n")
            yield escape_controls(withhold_values(text) if withhold else text) + "\n"

    return escaped


class NetworkTextFilter(logging.Filter):
    """Drops element values from library warnings; escapes control characters in all."""

    def filter(self, record: logging.LogRecord) -> bool:
        library = record.levelno >= logging.WARNING and _from_library(record.name)
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            # Formatters format exc_info into exc_text once; this text is what they use.
            record.exc_text = safe_traceback(record.exc_info[1], withhold=library)
        message = original = record.getMessage()
        if library:
            if record.name == "py.warnings":
                # "file:line: Category: text\n  source line": the source line is code.
                message = message.split("\n", 1)[0]
            message = withhold_values(message)
        message = escape_controls(message)
        if message != original or record.args:
            record.msg = message
            record.args = None
        return True


def install(handlers: list[logging.Handler] | None = None) -> None:
    """Put `NetworkTextFilter` on ``handlers`` (default: the root logger's), once each,
    and route Python warnings through logging (so through the filter)."""
    targets = logging.getLogger().handlers if handlers is None else handlers
    for handler in targets:
        if not any(isinstance(f, NetworkTextFilter) for f in handler.filters):
            handler.addFilter(NetworkTextFilter())
    # pydicom's `warn_and_log` logs each problem on the "pydicom" logger and warns it
    # again: the warning would be a second copy of the line.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"pydicom(\.|$)")
    logging.captureWarnings(capture=True)
