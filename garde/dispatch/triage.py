"""Triage: ordered rules map a study's header facts to a priority, skills and reading time.

The rules are compiled once into bit sets, one bit per rule. For each criterion
(modality, body part, keyword, requested priority, site) an index maps a value to the
rules that name it, plus the rules that do not constrain that criterion at all. A study
matches the AND over criteria of those sets, and the first rule that matches is the
lowest set bit. Classifying therefore costs a handful of dictionary look-ups and integer
operations however many rules there are (1,000 rules: a few microseconds).

Keywords are whole words or phrases matched on normalised text (`garde.dispatch.text`:
case, accents and punctuation ignored) in the StudyDescription, the
RequestedProcedureDescription and every series description.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from garde.dispatch.model import Priority, ReadingTimes, TriageResult, TriageRule
from garde.dispatch.text import normalise, words

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from garde.dispatch.model import StudyFacts

DEFAULT_RULE_NAME = "default"
"""The rule name reported when no rule matches (the study is then ROUTINE)."""

DEFAULT_READING_TIMES = ReadingTimes(
    table={
        # Means for an attending radiologist (../shared/NIGHTS.md).
        "CT": 16.0,
        "CT/HEAD": 16.0,
        "CT/BRAIN": 16.0,
        "CT/CHEST": 16.0,
        "CT/ABDOMEN": 18.0,
        "CT/SPINE": 9.0,
        "CT/EXTREMITY": 10.0,
        "CT/WHOLEBODY": 39.0,
        "MR": 11.0,
        "CR": 4.0,
        "DX": 4.0,
        "US": 12.0,
    },
    default=15.0,
)
"""Expected reading minutes by modality and body part, from published night figures."""


def _rule(  # noqa: PLR0917 - a compact table of defaults reads better positionally
    name: str,
    priority: Priority,
    skills: Iterable[str] = (),
    reading_minutes: float | None = None,
    modalities: Iterable[str] = (),
    keywords: Iterable[str] = (),
    body_parts: Iterable[str] = (),
    requested_priorities: Iterable[str] = (),
) -> TriageRule:
    return TriageRule(
        name=name,
        priority=priority,
        skills=frozenset(skills),
        reading_minutes=reading_minutes,
        modalities=frozenset(modalities),
        body_parts=frozenset(body_parts),
        keywords=tuple(keywords),
        requested_priorities=frozenset(requested_priorities),
    )


DEFAULT_RULES: tuple[TriageRule, ...] = (
    _rule(
        "stroke-alert",
        Priority.STROKE,
        ["neuro"],
        6,
        ["CT", "MR"],
        [
            "avc",
            "thrombolyse",
            "thrombectomie",
            "stroke",
            "alerte thrombolyse",
            "alerte avc",
            "code stroke",
            "perfusion cerebrale",
        ],
    ),
    _rule(
        "polytrauma",
        Priority.EMERGENCY,
        ["body"],
        39,
        ["CT"],
        ["polytrauma", "polytraumatisme", "bodyscan", "body scan", "whole body", "corps entier"],
    ),
    _rule(
        "pulmonary-embolism",
        Priority.EMERGENCY,
        ["chest"],
        12,
        ["CT"],
        [
            "embolie",
            "embolie pulmonaire",
            "pulmonary embolism",
            "ctpa",
            "angioscanner thoracique",
            "angio-tdm thoracique",
            "pulmonary angiogram",
            "pulmonary angiography",
            "rule out pe",
            "pe protocol",
        ],
    ),
    _rule(
        "subarachnoid-haemorrhage",
        Priority.EMERGENCY,
        ["neuro"],
        None,
        ["CT"],
        [
            "hsa",
            "hemorragie meningee",
            "hemorragie sous-arachnoidienne",
            "subarachnoid",
            "anevrisme",
        ],
    ),
    _rule(
        "head-trauma",
        Priority.URGENT,
        ["neuro"],
        None,
        ["CT"],
        ["traumatisme cranien", "tc", "head trauma", "head injury", "chute"],
    ),
    _rule(
        "acute-abdomen",
        Priority.URGENT,
        ["body"],
        None,
        ["CT"],
        [
            "abdomen aigu",
            "acute abdomen",
            "appendicite",
            "appendicitis",
            "occlusion",
            "perforation",
            "pneumoperitoine",
            "colique nephretique",
        ],
    ),
    _rule("stat-request", Priority.EMERGENCY, requested_priorities=["STAT"]),
    _rule("high-request", Priority.URGENT, requested_priorities=["HIGH"]),
    _rule(
        "paediatric",
        Priority.URGENT,
        ["paediatric"],
        keywords=["pediatrique", "paediatric", "pediatric", "enfant", "nourrisson", "child"],
    ),
    _rule("ct-head", Priority.URGENT, ["neuro"], None, ["CT"], body_parts=["HEAD", "BRAIN"]),
    _rule("ct-other", Priority.URGENT, modalities=["CT"]),
    _rule("mr-brain", Priority.URGENT, ["neuro"], None, ["MR"], body_parts=["HEAD", "BRAIN"]),
)
"""Sensible default rules (mirrored by ``[[triage.rules]]`` in config/example.toml)."""


@dataclass(frozen=True, slots=True)
class _Criterion:
    """One criterion's index: value -> bit set of rules naming it, and the wildcard set."""

    by_value: dict[str, int]
    unconstrained: int

    def matching(self, values: Iterable[str]) -> int:
        """Bit set of the rules this criterion lets through for these values."""
        bits = self.unconstrained
        for value in values:
            bits |= self.by_value.get(value, 0)
        return bits


def _criterion(values_per_rule: Sequence[Iterable[str]]) -> _Criterion:
    by_value: dict[str, int] = {}
    unconstrained = 0
    for position, values in enumerate(values_per_rule):
        bit = 1 << position
        listed = False
        for value in values:
            by_value[value] = by_value.get(value, 0) | bit
            listed = True
        if not listed:
            unconstrained |= bit
    return _Criterion(by_value, unconstrained)


class Triager:
    """Ordered triage rules compiled once; `classify` applies them (first match wins).

    Parameters
    ----------
    rules
        The rules, in order. Rule names should be unique (the explanation cites them).
    reading_times
        Expected reading minutes for rules that do not set their own.

    Notes
    -----
    A study that no rule matches is ROUTINE, needs no skill, and is reported with the
    rule name ``"default"`` (`DEFAULT_RULE_NAME`).
    """

    __slots__ = (
        "_body_parts",
        "_keywords",
        "_modalities",
        "_prefixes",
        "_requested",
        "_rules",
        "_sites",
        "reading_times",
    )

    def __init__(self, rules: Sequence[TriageRule], reading_times: ReadingTimes) -> None:
        self._rules = tuple(rules)
        self.reading_times = reading_times
        self._modalities = _criterion([{m.upper() for m in r.modalities} for r in self._rules])
        self._body_parts = _criterion([{b.upper() for b in r.body_parts} for r in self._rules])
        self._requested = _criterion(
            [{p.strip().upper() for p in r.requested_priorities} for r in self._rules]
        )
        self._sites = _criterion([r.sites for r in self._rules])
        phrases = [{normalise(k) for k in r.keywords} - {""} for r in self._rules]
        self._keywords = _criterion(phrases)
        # Every leading run of words of a keyword phrase: a phrase is only extended while
        # it can still become a keyword, so scanning costs about one look-up per word.
        self._prefixes = {
            " ".join(tokens[:n])
            for ps in phrases
            for tokens in (p.split(" ") for p in ps)
            for n in range(1, len(tokens) + 1)
        }

    @property
    def rules(self) -> tuple[TriageRule, ...]:
        """The rules, in order."""
        return self._rules

    def _phrases(self, facts: StudyFacts) -> set[str]:
        """The keyword phrases present, as whole words, in any of the text fields."""
        found: set[str] = set()
        index = self._keywords.by_value
        prefixes = self._prefixes
        for field in (facts.description, facts.requested_procedure, *facts.series_descriptions):
            tokens = words(field)
            for start, first in enumerate(tokens):
                phrase = first
                end = start + 1
                while phrase in prefixes:
                    if phrase in index:
                        found.add(phrase)
                    if end == len(tokens):
                        break
                    phrase = f"{phrase} {tokens[end]}"
                    end += 1
        return found

    def matching_rules(self, facts: StudyFacts) -> int:
        """Bit set of every rule that matches ``facts`` (bit i: rule i)."""
        bits = self._sites.matching((facts.site_id,))
        if not bits:
            return 0
        bits &= self._modalities.matching(m.upper() for m in facts.modalities)
        bits &= self._body_parts.matching((facts.body_part.strip().upper(),))
        bits &= self._requested.matching((facts.requested_priority.strip().upper(),))
        if bits & ~self._keywords.unconstrained:
            # Only tokenise the descriptions if a rule still in play needs a keyword.
            bits &= self._keywords.matching(self._phrases(facts))
        return bits

    def match(self, facts: StudyFacts) -> TriageRule | None:
        """The first rule that matches ``facts``, or None."""
        bits = self.matching_rules(facts)
        if not bits:
            return None
        return self._rules[(bits & -bits).bit_length() - 1]

    def classify(self, facts: StudyFacts) -> TriageResult:
        """Priority, required skills, expected reading minutes and the deciding rule.

        Parameters
        ----------
        facts
            The study's header facts, as received (any case, accents).

        Returns
        -------
        TriageResult
            From the first matching rule; ROUTINE with rule ``"default"`` if none does.
        """
        rule = self.match(facts)
        table_minutes = self.reading_times.minutes(facts.modalities, facts.body_part.strip())
        if rule is None:
            return TriageResult(Priority.ROUTINE, frozenset(), table_minutes, DEFAULT_RULE_NAME)
        minutes = table_minutes if rule.reading_minutes is None else rule.reading_minutes
        return TriageResult(rule.priority, rule.skills, float(minutes), rule.name)
