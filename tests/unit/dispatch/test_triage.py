import tomllib
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from garde.dispatch.model import Priority, ReadingTimes, StudyFacts, TriageRule
from garde.dispatch.text import normalise, words
from garde.dispatch.triage import (
    DEFAULT_READING_TIMES,
    DEFAULT_RULE_NAME,
    DEFAULT_RULES,
    Triager,
)

TRIAGER = Triager(DEFAULT_RULES, DEFAULT_READING_TIMES)


def facts(
    description="",
    modality="CT",
    body_part="",
    requested="",
    priority="",
    series=(),
    site="h01",
):
    return StudyFacts(
        study_uid="1.2.3",
        site_id=site,
        modalities=frozenset({modality} if modality else ()),
        body_part=body_part,
        description=description,
        requested_procedure=requested,
        requested_priority=priority,
        series_descriptions=tuple(series),
    )


@pytest.mark.parametrize(
    ("description", "modality", "body_part", "rule", "priority"),
    [
        ("TDM CEREBRALE ALERTE THROMBOLYSE", "CT", "HEAD", "stroke-alert", Priority.STROKE),
        ("Scanner cérébral - alerte AVC", "CT", "HEAD", "stroke-alert", Priority.STROKE),
        ("IRM encéphale thrombectomie", "MR", "BRAIN", "stroke-alert", Priority.STROKE),
        ("CT HEAD CODE STROKE", "CT", "HEAD", "stroke-alert", Priority.STROKE),
        ("Perfusion cérébrale", "CT", "HEAD", "stroke-alert", Priority.STROKE),
        (
            "Angio-TDM thoracique (embolie pulmonaire ?)",
            "CT",
            "CHEST",
            "pulmonary-embolism",
            Priority.EMERGENCY,
        ),
        ("ANGIOSCANNER THORACIQUE", "CT", "CHEST", "pulmonary-embolism", Priority.EMERGENCY),
        ("CTPA", "CT", "CHEST", "pulmonary-embolism", Priority.EMERGENCY),
        ("CT Pulmonary Angiogram", "CT", "CHEST", "pulmonary-embolism", Priority.EMERGENCY),
        ("CT chest - rule out PE", "CT", "CHEST", "pulmonary-embolism", Priority.EMERGENCY),
        ("CT CHEST PE PROTOCOL", "CT", "CHEST", "pulmonary-embolism", Priority.EMERGENCY),
        ("Bodyscan polytraumatisé", "CT", "WHOLEBODY", "polytrauma", Priority.EMERGENCY),
        ("Polytraumatisme AVP", "CT", "WHOLEBODY", "polytrauma", Priority.EMERGENCY),
        ("Hémorragie méningée ?", "CT", "HEAD", "subarachnoid-haemorrhage", Priority.EMERGENCY),
        ("TDM crâne traumatisme crânien chute", "CT", "HEAD", "head-trauma", Priority.URGENT),
        ("HEAD INJURY", "CT", "HEAD", "head-trauma", Priority.URGENT),
        ("TC sous AVK", "CT", "HEAD", "head-trauma", Priority.URGENT),
        ("Scanner abdo-pelvien appendicite", "CT", "ABDOMEN", "acute-abdomen", Priority.URGENT),
        ("Colique néphrétique", "CT", "ABDOMEN", "acute-abdomen", Priority.URGENT),
        ("TDM cérébrale sans injection", "CT", "HEAD", "ct-head", Priority.URGENT),
        ("TDM rachis cervical", "CT", "SPINE", "ct-other", Priority.URGENT),
        ("IRM cérébrale", "MR", "BRAIN", "mr-brain", Priority.URGENT),
        ("Radio thorax", "CR", "CHEST", DEFAULT_RULE_NAME, Priority.ROUTINE),
    ],
)
def test_real_looking_descriptions(description, modality, body_part, rule, priority):
    result = TRIAGER.classify(facts(description, modality, body_part))
    assert (result.rule, result.priority) == (rule, priority)


def test_stroke_keywords_need_a_ct_or_mr():
    # An X-ray mentioning a stroke is not a stroke alert (modality criterion).
    assert TRIAGER.classify(facts("AVC thorax", modality="CR")).rule == DEFAULT_RULE_NAME


def test_keywords_are_whole_words():
    # "tc" (traumatisme crânien) must not fire inside another word.
    assert TRIAGER.classify(facts("TCP scan", body_part="SPINE")).rule == "ct-other"
    assert TRIAGER.classify(facts("avcx", body_part="SPINE")).rule == "ct-other"


def test_keywords_match_in_requested_procedure_and_series_descriptions():
    assert TRIAGER.classify(facts(requested="Alerte thrombolyse")).rule == "stroke-alert"
    assert TRIAGER.classify(facts(series=("AXIAL", "PERFUSION CEREBRALE"))).rule == ("stroke-alert")


def test_phrase_does_not_span_fields():
    # "alerte" in one field, "avc"... well "avc" alone matches; use a two-word phrase.
    rules = [TriageRule("x", Priority.STROKE, keywords=("code stroke",))]
    triager = Triager(rules, ReadingTimes())
    assert triager.match(facts("code", requested="stroke")) is None
    assert triager.match(facts("Code-Stroke activé")) is not None


def test_requested_priority_and_reading_minutes():
    result = TRIAGER.classify(facts("Radio poignet", modality="DX", priority=" stat "))
    assert (result.rule, result.priority) == ("stat-request", Priority.EMERGENCY)
    assert result.reading_minutes == 4.0  # from the table (DX)
    assert result.skills == frozenset()
    high = TRIAGER.classify(facts("Echo", modality="US", priority="HIGH"))
    assert (high.rule, high.reading_minutes) == ("high-request", 12.0)


def test_rule_reading_minutes_override_the_table():
    stroke = TRIAGER.classify(facts("AVC", body_part="HEAD"))
    assert stroke.reading_minutes == 6.0
    assert stroke.skills == {"neuro"}
    head = TRIAGER.classify(facts("TDM", body_part="head"))
    assert (head.rule, head.reading_minutes) == ("ct-head", 16.0)


def test_paediatric_by_keyword_for_any_modality():
    result = TRIAGER.classify(facts("Radio thorax enfant", modality="CR"))
    assert (result.rule, result.skills) == ("paediatric", {"paediatric"})


def test_no_match_is_routine_default():
    result = Triager([], ReadingTimes(default=9)).classify(facts("anything"))
    assert result.priority is Priority.ROUTINE
    assert result.rule == DEFAULT_RULE_NAME
    assert result.reading_minutes == 9
    assert result.skills == frozenset()


def test_first_match_wins_and_site_criterion():
    rules = [
        TriageRule(
            "children-site",
            Priority.URGENT,
            skills=frozenset({"paediatric"}),
            sites=frozenset({"h09"}),
        ),
        TriageRule("ct", Priority.EMERGENCY, modalities=frozenset({"CT"})),
        TriageRule("ct-again", Priority.STROKE, modalities=frozenset({"CT"})),
    ]
    triager = Triager(rules, ReadingTimes())
    assert triager.rules == tuple(rules)
    assert triager.classify(facts(site="h09")).rule == "children-site"
    assert triager.classify(facts(site="h01")).rule == "ct"
    assert triager.match(facts(site="h01", modality="MR")) is None
    site_only = Triager(rules[:1], ReadingTimes())
    assert site_only.match(facts(site="h01")) is None  # no rule left after the site index


def test_lower_case_criteria_in_rules_are_normalised():
    rule = TriageRule(
        "mr-knee",
        Priority.URGENT,
        modalities=frozenset({"mr"}),
        body_parts=frozenset({"knee"}),
        requested_priorities=frozenset({"high"}),
        keywords=("Ménisque",),
    )
    triager = Triager([rule], ReadingTimes())
    assert triager.match(facts("IRM genou menisque", "MR", "KNEE", priority="HIGH")) is rule


def test_default_rules_mirror_the_example_config():
    example = Path(__file__).parents[3] / "garde" / "config" / "example.toml"
    rules = tomllib.loads(example.read_text(encoding="utf-8"))["triage"]["rules"]
    assert [r["name"] for r in rules] == [r.name for r in DEFAULT_RULES]
    for raw, rule in zip(rules, DEFAULT_RULES, strict=True):
        assert Priority(raw["priority"]) is rule.priority
        assert frozenset(raw.get("skills", ())) == rule.skills
        assert raw.get("reading_minutes") == rule.reading_minutes
        assert tuple(raw.get("keywords", ())) == rule.keywords
        assert frozenset(raw.get("modalities", ())) == rule.modalities
        assert frozenset(raw.get("body_parts", ())) == rule.body_parts
        assert frozenset(raw.get("requested_priorities", ())) == rule.requested_priorities


# -- compiled matching agrees with the naive definition ---------------------------------
def naive_match(rules, f):
    text_fields = [words(t) for t in (f.description, f.requested_procedure, *f.series_descriptions)]

    def has_phrase(phrase):
        target = normalise(phrase).split(" ")
        return any(
            tokens[i : i + len(target)] == target
            for tokens in text_fields
            for i in range(len(tokens))
        )

    for rule in rules:
        if rule.sites and f.site_id not in rule.sites:
            continue
        if rule.modalities and not {m.upper() for m in f.modalities} & {
            m.upper() for m in rule.modalities
        }:
            continue
        if rule.body_parts and f.body_part.strip().upper() not in {
            b.upper() for b in rule.body_parts
        }:
            continue
        if rule.requested_priorities and f.requested_priority.strip().upper() not in {
            p.upper() for p in rule.requested_priorities
        }:
            continue
        if rule.keywords and not any(has_phrase(k) for k in rule.keywords):
            continue
        return rule
    return None


VOCAB = [
    "avc",
    "alerte",
    "thrombolyse",
    "embolie",
    "pulmonaire",
    "tdm",
    "crâne",
    "Chute",
    "TC",
    "abdomen",
]
subsets = lambda pool: st.frozensets(st.sampled_from(pool), max_size=2)  # noqa: E731

rule_strategy = st.builds(
    TriageRule,
    name=st.text("abcdef", min_size=1, max_size=4),
    priority=st.sampled_from(list(Priority)),
    modalities=subsets(["CT", "MR", "CR"]),
    body_parts=subsets(["HEAD", "CHEST"]),
    keywords=st.lists(
        st.lists(st.sampled_from(VOCAB), min_size=1, max_size=2).map(" ".join), max_size=3
    ).map(tuple),
    requested_priorities=subsets(["STAT", "HIGH"]),
    sites=subsets(["h01", "h02"]),
)
facts_strategy = st.builds(
    StudyFacts,
    study_uid=st.just("1.2"),
    site_id=st.sampled_from(["h01", "h02"]),
    modalities=subsets(["CT", "MR", "CR"]),
    body_part=st.sampled_from(["", "HEAD", "chest"]),
    description=st.lists(st.sampled_from([*VOCAB, "-", "x"]), max_size=6).map(" ".join),
    requested_procedure=st.lists(st.sampled_from(VOCAB), max_size=3).map(" ".join),
    requested_priority=st.sampled_from(["", "STAT", "high"]),
    series_descriptions=st.lists(st.sampled_from(VOCAB), max_size=2).map(tuple),
)


@settings(max_examples=300, deadline=None)
@given(rules=st.lists(rule_strategy, max_size=12), f=facts_strategy)
def test_compiled_rules_agree_with_naive_first_match(rules, f):
    assert Triager(rules, ReadingTimes()).match(f) is naive_match(rules, f)


def test_a_thousand_rules_compile_and_match():
    rules = [
        TriageRule(
            f"site-{i}", Priority.URGENT, keywords=(f"code{i}", "x y z"), sites=frozenset({f"s{i}"})
        )
        for i in range(999)
    ]
    rules.append(DEFAULT_RULES[0])
    triager = Triager(rules, DEFAULT_READING_TIMES)
    assert triager.classify(facts("alerte AVC", body_part="HEAD")).rule == "stroke-alert"
    assert triager.classify(facts("code512", site="s512")).rule == "site-512"
    assert triager.classify(facts("code512", site="s513")).rule == DEFAULT_RULE_NAME


@pytest.mark.parametrize(
    ("accented", "modality", "body_part", "rule"),
    [
        ("Scanner cérébral alerte thrombolyse", "CT", "HEAD", "stroke-alert"),
        ("IRM encéphalique : thrombectomie ?", "MR", "BRAIN", "stroke-alert"),
        ("Angio-TDM thoracique — embolie pulmonaire", "CT", "CHEST", "pulmonary-embolism"),
        ("Hémorragie méningée", "CT", "HEAD", "subarachnoid-haemorrhage"),
        ("Bodyscan polytraumatisé", "CT", "WHOLEBODY", "polytrauma"),
        ("Traumatisme crânien, chute", "CT", "HEAD", "head-trauma"),
        ("Colique néphrétique", "CT", "ABDOMEN", "acute-abdomen"),
        ("Stroke protocol CT head", "CT", "HEAD", "stroke-alert"),
        ("CTPA — suspected pulmonary embolism", "CT", "CHEST", "pulmonary-embolism"),
    ],
)
def test_accents_and_case_do_not_change_the_verdict(accented, modality, body_part, rule):
    """The same description typed with accents, without them, in capitals (as many
    modalities send it) and in lower case gets the same rule."""
    stripped = "".join(
        c for c in unicodedata.normalize("NFD", accented) if unicodedata.category(c) != "Mn"
    )
    verdicts = {
        TRIAGER.classify(facts(text, modality, body_part)).rule
        for text in (accented, stripped, stripped.upper(), accented.lower(), accented.upper())
    }
    assert verdicts == {rule}
