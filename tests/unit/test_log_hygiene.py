"""The log filter: library warnings lose their values, every line stays one line."""

from __future__ import annotations

import io
import logging
import warnings

import pytest

from garde import log_hygiene
from garde.cli._common import configure_logging
from garde.log_hygiene import WITHHELD, NetworkTextFilter, escape_controls, withhold_values


def formatted(name: str, level: int, msg: str, *args: object) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(NetworkTextFilter())
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    handler.handle(logging.LogRecord(name, level, __file__, 1, msg, args, None))
    return stream.getvalue()


def test_control_characters_are_escaped_in_every_record():
    line = formatted("garde.x", logging.INFO, "uid %s", "1.2\nFORGED\x00\x1b[2J\r\u2028")
    assert line == "garde.x: uid 1.2\\nFORGED\\x00\\x1b[2J\\r\\u2028\n"


def test_a_pydicom_warning_keeps_its_words_and_loses_the_value():
    message = "Invalid value for VR IS: '1234567890123456'. Please see <https://x> for values."
    line = formatted("pydicom", logging.WARNING, message)
    assert (
        line
        == f"pydicom: Invalid value for VR IS: {WITHHELD}. Please see <https://x> for values.\n"
    )


def test_a_pynetdicom_warning_with_a_raw_newline_in_its_value_is_one_line_without_it():
    line = formatted("pynetdicom.utils", logging.WARNING, "Non-conformant 'UID' value '1.2\nX'")
    assert line == f"pynetdicom.utils: Non-conformant {WITHHELD} value {WITHHELD}\n"


def test_our_own_records_keep_their_values():
    assert formatted("garde.dicom_gateway", logging.WARNING, "study '1.2.3'") == (
        "garde.dicom_gateway: study '1.2.3'\n"
    )


def test_helpers():
    assert escape_controls("plain") == "plain"
    assert escape_controls("a\tb") == "a\\tb"
    assert withhold_values("value 'a\\'b' and \"c\"") == f"value {WITHHELD} and {WITHHELD}"


def test_the_cli_logging_installs_the_filter_and_routes_python_warnings(capsys):
    logging.captureWarnings(capture=False)  # an earlier CLI test of this process captured
    configure_logging(0, 0, None)
    try:
        root = logging.getLogger().handlers
        assert root
        assert all(any(isinstance(f, NetworkTextFilter) for f in h.filters) for h in root)
        with warnings.catch_warnings():
            log_hygiene.install()  # again: still one filter per handler
            warnings.simplefilter("always")
            warnings.warn("bad value 'PAT-42'\nforged", UserWarning, stacklevel=1)
        assert sum(isinstance(f, NetworkTextFilter) for f in root[0].filters) == 1
    finally:
        logging.captureWarnings(capture=False)
    err = capsys.readouterr().err
    assert "PAT-42" not in err
    assert "forged" not in err
    assert f"bad value {WITHHELD}" in err


@pytest.mark.parametrize("name", ["pydicom", "pydicom.valuerep", "pynetdicom.acse", "py.warnings"])
def test_library_loggers_are_the_ones_redacted(name):
    assert WITHHELD in formatted(name, logging.WARNING, "x 'v'")
    assert WITHHELD not in formatted(name, logging.INFO, "x 'v'")


def formatted_exception(name: str, level: int, exc: BaseException) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(NetworkTextFilter())
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    record = logging.LogRecord(
        name, level, __file__, 1, "failed", None, (type(exc), exc, exc.__traceback__)
    )
    handler.handle(record)
    return stream.getvalue()


def _raise(exc: BaseException, cause: BaseException | None) -> None:
    raise exc from cause


def _raised(exc: BaseException, cause: BaseException | None = None) -> BaseException:
    """``exc`` raised (so with a traceback), caught and returned."""
    try:
        _raise(exc, cause)
    except BaseException as caught:
        return caught
    raise AssertionError


FORGED = "2026-12-06 03:00:00 INFO garde.dicom_gateway: FORGED"


def test_a_traceback_keeps_its_frames_and_escapes_the_exception_text():
    exc = _raised(ValueError(f"uid 1.2\n{FORGED}\x00"))
    text = formatted_exception("garde.dicom_gateway", logging.ERROR, exc)
    lines = text.splitlines()
    assert lines[0] == "garde.dicom_gateway: failed"
    assert lines[1] == "Traceback (most recent call last):"
    assert any(line.startswith('  File "') for line in lines)
    assert lines[-1] == f"ValueError: uid 1.2\\n{FORGED}\\x00"
    assert not any(line.startswith(FORGED) for line in lines)


def test_every_exception_of_a_chain_is_escaped_and_a_library_one_loses_its_values():
    cause = _raised(KeyError("PAT\nID"))
    exc = _raised(ValueError("Invalid value for VR IS: '123456'\rX"), cause)
    text = formatted_exception("pynetdicom.dul", logging.ERROR, exc)
    assert "KeyError: 'PAT\\nID'" not in text  # withheld, being a library's record
    assert f"KeyError: {WITHHELD}" in text
    assert f"ValueError: Invalid value for VR IS: {WITHHELD}\\rX" in text
    assert "direct cause of the following exception" in text
    assert "123456" not in text
    assert "\r" not in text
