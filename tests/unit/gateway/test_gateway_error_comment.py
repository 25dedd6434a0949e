"""The Error Comment (0000,0902) is an LO: 64 characters at most, no backslash, no control
character. A longer reason is shortened where a reader still understands it."""

from __future__ import annotations

from garde.dicom_gateway.handlers import _error_comment


def test_a_short_reason_is_kept_whole() -> None:
    assert _error_comment("SOP Instance UID already stored with another content") == (
        "SOP Instance UID already stored with another content"
    )


def test_a_parenthesis_the_limit_would_cut_is_dropped_whole() -> None:
    text = "element (7FE0,0010) declares 8192 bytes, 1500 arrived (at byte 1154 of the data set)"
    assert _error_comment(text) == "element (7FE0,0010) declares 8192 bytes, 1500 arrived"


def test_otherwise_the_cut_falls_between_words() -> None:
    text = "the header does not decode in the negotiated transfer syntax explicit little endian"
    comment = _error_comment(text)
    assert len(comment) <= 64
    assert text.startswith(comment)
    assert text[len(comment)] == " "


def test_controls_and_backslashes_never_reach_the_value() -> None:
    comment = _error_comment("bad\\value\nforged line\x00")
    assert comment == "bad value forged line"
