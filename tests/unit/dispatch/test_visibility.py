"""Who may see a study: operators (and a region without tokens), its reader, the
readers credentialed for its hospital; nobody else."""

from __future__ import annotations

from garde.dispatch.visibility import may_see

H01 = frozenset({"h01"})


def test_the_privileged_see_every_study() -> None:
    assert may_see("h02", "r01", "ops", None, privileged=True)


def test_a_reader_sees_their_own_study_even_from_another_hospital() -> None:
    assert may_see("h02", "r01", "r01", H01, privileged=False)


def test_a_reader_sees_the_studies_of_the_hospitals_they_are_credentialed_for() -> None:
    assert may_see("h01", "r02", "r01", H01, privileged=False)
    assert may_see("h01", None, "r01", H01, privileged=False)


def test_nobody_else_sees_it() -> None:
    assert not may_see("h02", "r02", "r01", H01, privileged=False)
    assert not may_see("h01", "r02", "stranger", None, privileged=False)
