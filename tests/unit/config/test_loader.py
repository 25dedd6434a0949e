"""Settings load from TOML, and every kind of bad config gets a one-line, located error."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from garde.config import ConfigError, load_settings
from garde.config.loader import example_path
from garde.config.model import Environment
from garde.dispatch.model import Priority

MINIMAL = """
[region]
medical_director = "director@example.org"

[[sites]]
id = "h01"
name = "CH One"
ae_titles = ["ONE_CT"]

[[radiologists]]
id = "r01"
name = "Dr One"
skills = ["neuro"]
sites = ["h01"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "garde.toml"
    path.write_text(text, encoding="utf-8")
    return path


def only_problem(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert "\n" not in message, message
    assert str(path) in message
    return message


def test_example_region_loads_with_its_hospitals_and_radiologists() -> None:
    settings = load_settings(example_path())
    assert len(settings.sites) >= 6
    assert len(settings.radiologists) >= 8
    assert settings.environment is Environment.DEMO
    assert settings.sla.targets[Priority.STROKE].total_seconds() == 20 * 60
    assert settings.site_by_ae()["ROANNE_PACS"].stable_age_s == 90
    assert any(r.fallback for r in settings.radiologists)
    assert {r.id for r in settings.radiologists if "neuro" in r.skills} >= {"r01", "r03"}


def test_minimal_config_takes_documented_defaults(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL))
    assert settings.gateway.port == 11112
    assert settings.gateway.storage_dir == Path("data/storage")
    assert settings.effective_database_url.endswith("data/garde.sqlite")
    assert settings.radiologists[0].sites == frozenset({"h01"})


def test_missing_key_names_file_and_key(tmp_path: Path) -> None:
    message = only_problem(write(tmp_path, MINIMAL.replace('name = "CH One"\n', "")))
    assert "sites[0].name: missing" in message


def test_wrong_type_names_key_and_expected_type(tmp_path: Path) -> None:
    message = only_problem(write(tmp_path, MINIMAL + '[gateway]\nport = "eleven"\n'))
    assert "gateway.port: expected an integer, got str 'eleven'" in message


def test_unknown_site_in_credentials(tmp_path: Path) -> None:
    message = only_problem(
        write(tmp_path, MINIMAL.replace('sites = ["h01"]', 'sites = ["h01", "h99"]'))
    )
    assert "radiologists[0].sites: unknown site 'h99'" in message


def test_duplicate_ae_title_across_sites(tmp_path: Path) -> None:
    text = MINIMAL + '[[sites]]\nid = "h02"\nname = "CH Two"\nae_titles = ["ONE_CT"]\n'
    message = only_problem(write(tmp_path, text))
    assert "sites[1].ae_titles: duplicate AE title 'ONE_CT', already used by site 'h01'" in message


def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything: make it a directory instead
        path.chmod(0o600)
        path.unlink()
        path.mkdir()
    message = only_problem(path)
    assert "(file): cannot read" in message


def test_missing_file(tmp_path: Path) -> None:
    assert "(file): no such file" in only_problem(tmp_path / "absent.toml")


def test_invalid_toml_syntax(tmp_path: Path) -> None:
    assert "(syntax): invalid TOML" in only_problem(write(tmp_path, "[[sites]\n"))


def test_unknown_key_is_a_typo_not_ignored(tmp_path: Path) -> None:
    message = only_problem(write(tmp_path, MINIMAL + "[gateway]\nprot = 104\n"))
    assert "gateway.prot: unknown key" in message


def test_bad_time_zone_and_priority(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        'ae_titles = ["ONE_CT"]', 'ae_titles = ["ONE_CT"]\ntimezone = "Mars/Olympus"'
    )
    text += "[sla.targets_min]\nsuperurgent = 5\n"
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    keys = [p.key for p in info.value.problems]
    assert keys == ["sites[0].timezone", "sla.targets_min.superurgent"]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = MINIMAL.replace('sites = ["h01"]', 'sites = ["h42"]') + "[gateway]\nport = 70000\n"
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    assert len(info.value.problems) == 2


def test_environment_overrides_keys(tmp_path: Path) -> None:
    env = {"GARDE_GATEWAY__PORT": "11999", "GARDE_DATA_DIR": "/srv/garde", "HOME": "/root"}
    settings = load_settings(write(tmp_path, MINIMAL), env)
    assert settings.gateway.port == 11999
    assert settings.data_dir == Path("/srv/garde")
    assert settings.gateway.storage_dir == Path("/srv/garde/storage")


def test_environment_override_is_validated_like_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"gateway\.port: expected an integer"):
        load_settings(write(tmp_path, MINIMAL), {"GARDE_GATEWAY__PORT": "abc"})


def test_triage_rules_are_read_in_order(tmp_path: Path) -> None:
    text = MINIMAL + (
        '[[triage.rules]]\nname = "stroke"\npriority = "stroke"\nkeywords = ["avc"]\n'
        '[[triage.rules]]\nname = "rest"\npriority = "routine"\n'
    )
    rules = load_settings(write(tmp_path, text)).triage_rules
    assert [r.name for r in rules] == ["stroke", "rest"]
    assert rules[0].priority is Priority.STROKE


def test_bad_priority_in_rule(tmp_path: Path) -> None:
    text = MINIMAL + '[[triage.rules]]\nname = "x"\npriority = "asap"\n'
    assert "triage.rules[0].priority: expected one of stroke" in only_problem(write(tmp_path, text))


def test_a_region_without_a_medical_director_is_refused_naming_the_key(tmp_path: Path) -> None:
    text = MINIMAL.replace('[region]\nmedical_director = "director@example.org"\n', "")
    assert "region.medical_director: required" in only_problem(write(tmp_path, text))
    blank = MINIMAL.replace('"director@example.org"', '"  "')
    assert "region.medical_director: required" in only_problem(write(tmp_path, blank))


def test_the_medical_director_is_a_radiologist_or_a_contact(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL.replace('"director@example.org"', '"r01"')))
    assert settings.region.medical_director == "r01"
    assert [r.id for r in settings.radiologists if r.medical_director] == ["r01"]
    phone = load_settings(
        write(tmp_path, MINIMAL.replace('"director@example.org"', '"+33 4 72 00 00 00"'))
    )
    assert phone.region.medical_director == "+33 4 72 00 00 00"
    assert not any(r.medical_director for r in phone.radiologists)
    typo = MINIMAL.replace('"director@example.org"', '"r1"')
    assert "unknown radiologist 'r1' (known: r01)" in only_problem(write(tmp_path, typo))
    example = load_settings(example_path())
    assert example.region.medical_director == "r00"
    assert example.night_safety.assigned_priorities == {"stroke", "emergency", "urgent"}


def test_notify_priorities_must_be_priorities(tmp_path: Path) -> None:
    text = MINIMAL + '[notify]\nassigned_priorities = ["stroke", "soon"]\n'
    assert "notify.assigned_priorities: unknown priority 'soon'" in only_problem(
        write(tmp_path, text)
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('"director@example.org"', "5"), "region.medical_director: expected a string"),
        (
            (
                'medical_director = "director@example.org"\n',
                'medical_director = "d@x.org"\nx = 1\n',
            ),
            "region.x",
        ),
    ],
)
def test_bad_region_keys_are_named(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    assert expected in only_problem(write(tmp_path, MINIMAL.replace(*change)))


def test_night_safety_numbers_must_be_positive(tmp_path: Path) -> None:
    text = MINIMAL + "[notify]\nack_timeout_min = 0\n"
    assert "notify.ack_timeout_min" in only_problem(write(tmp_path, text))


def test_routine_cutoff_and_day_target_are_read_in_minutes(tmp_path: Path) -> None:
    text = MINIMAL + "[sla]\nroutine_cutoff_min = 45\nday_routine_min = 180\n"
    policy = load_settings(write(tmp_path, text)).sla
    assert policy.routine_cutoff == timedelta(minutes=45)
    assert policy.day_routine_target == timedelta(hours=3)


def test_the_example_region_aims_urgent_at_60_min_with_a_240_min_limit() -> None:
    sla = load_settings(example_path()).sla
    assert sla.targets[Priority.URGENT] == timedelta(minutes=60)
    assert sla.limit(Priority.URGENT) == timedelta(minutes=240)
    assert sla.limit(Priority.STROKE) == sla.targets[Priority.STROKE]  # no limit: the target
    assert sla.limit(Priority.ROUTINE) is None  # by morning


def test_a_limit_below_its_target_or_without_one_is_refused(tmp_path: Path) -> None:
    text = (
        MINIMAL + "[sla.targets_min]\nurgent = 60\n[sla.limits_min]\nurgent = 30\nroutine = 600\n"
    )
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    messages = {p.key: p.message for p in info.value.problems}
    assert "at least the target (60 min), got 30" in messages["sla.limits_min.urgent"]
    assert "no target" in messages["sla.limits_min.routine"]
