"""Reading the national directory's extract (PS_LibreAcces layout): the shipped sample,
the filter, malformed rows (all or nothing, by line) and files in another layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from garde.directory.errors import ExtractLayoutError, ExtractRowsError
from garde.directory.extract import ExtractFilter, parse_extract, read_extract
from garde.directory.model import Professional, rpps_valid

SAMPLE = (
    Path(__file__).resolve().parents[3] / "examples" / "PS_LibreAcces_Personne_activite_sample.txt"
)


def _lines() -> list[str]:
    return SAMPLE.read_text(encoding="utf-8").splitlines()


def test_the_sample_holds_nine_radiologists_and_one_nuclear_medicine_physician() -> None:
    extract = read_extract(SAMPLE)
    assert extract.rows == 14
    assert len(extract.professionals) == 10
    by_rpps = {p.rpps: p for p in extract.professionals}
    morel = by_rpps["10999000002"]
    assert morel.display_name == "Dr Claire Morel"
    assert morel.specialties == ("SM44",)
    # Two practices, one professional.
    assert len(morel.structures) == 2
    assert by_rpps["10999000101"].specialties == ("SM28",)
    assert by_rpps["10999000028"].display_name == "Dr Inès Garnier"


def test_the_filter_is_configuration() -> None:
    general_practice = ExtractFilter(professions=frozenset({"10"}), specialties=frozenset({"SM54"}))
    extract = read_extract(SAMPLE, general_practice)
    assert [p.display_name for p in extract.professionals] == ["Dr Camille Roux"]


def test_a_malformed_rpps_is_reported_with_its_line_and_nothing_is_read() -> None:
    lines = _lines()
    lines[3] = lines[3].replace("|10999000010|", "|10999000011|", 1)  # bad check digit
    lines[5] = lines[5].replace("|10999000036|", "|1099900003|", 1)  # ten digits
    with pytest.raises(ExtractRowsError) as caught:
        parse_extract(lines, "extract.txt", ExtractFilter())
    assert [line for line, _ in caught.value.problems] == [4, 6]
    message = str(caught.value)
    assert "extract.txt:4: Identifiant PP '10999000011' is not an RPPS number" in message
    assert "nothing imported" in message
    assert "BERNARD" not in message  # rows are named by line and number, not by person


def test_a_malformed_rpps_of_a_row_the_filter_skips_does_not_matter() -> None:
    lines = [line.replace("|10999000127|", "|123|") for line in _lines()]  # the pharmacist
    assert len(parse_extract(lines, "x", ExtractFilter()).professionals) == 10


def test_another_layout_is_refused_naming_the_missing_columns() -> None:
    lines = ["rpps;nom;prenom;specialite", "10999000002;MOREL;CLAIRE;SM44"]
    with pytest.raises(ExtractLayoutError) as caught:
        parse_extract(lines, "other.csv", ExtractFilter())
    assert "Identifiant PP" in caught.value.missing
    assert "Nom d'exercice" in caught.value.missing
    assert "other.csv: not a PS_LibreAcces extract" in str(caught.value)


def test_a_header_lacking_one_column_names_only_that_one() -> None:
    lines = _lines()
    lines[0] = lines[0].replace("Code savoir-faire|", "Code savoir faire|", 1)
    with pytest.raises(ExtractLayoutError) as caught:
        parse_extract(lines, "x", ExtractFilter())
    assert caught.value.missing == ("Code savoir-faire",)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("10001045367", True),
        ("10999000002", True),
        ("10999000003", False),
        ("1000104536", False),
        ("100010453670", False),
        ("1000104536a", False),
        ("١٠٠٠١٠٤٥٣٦٧", False),
    ],
)
def test_rpps_check_digit(value: str, valid: bool) -> None:
    assert rpps_valid(value) is valid


def test_a_professional_needs_a_valid_rpps() -> None:
    with pytest.raises(ValueError, match="malformed RPPS"):
        Professional("12345678901", "X", "Y")
