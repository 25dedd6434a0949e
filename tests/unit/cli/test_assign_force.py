"""`garde assign --force` needs a reason: a usage error (exit 2) before anything runs."""

from __future__ import annotations

from click.testing import CliRunner

from garde.cli import main


def test_force_without_a_reason_is_a_usage_error() -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["assign", "1.2.3", "r07", "--force"], catch_exceptions=False)
    assert missing.exit_code == 2
    assert "--reason" in missing.output
    blank = runner.invoke(
        main, ["assign", "1.2.3", "r07", "--force", "--reason", "  "], catch_exceptions=False
    )
    assert blank.exit_code == 2
    assert "--force needs a --reason" in blank.output


def test_audit_names_exactly_one_subject() -> None:
    result = CliRunner().invoke(
        main, ["audit", "--actor", "alice", "--study", "1.2.3"], catch_exceptions=False
    )
    assert result.exit_code == 1
    assert "--actor NAME" in result.output
