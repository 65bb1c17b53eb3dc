"""What a finding breaks: the endpoint's known consumers, from the spec's ``x-consumers``.

A platform team's first question about drift is "what breaks?". The spec names each public
consumer of the endpoint (the Terraform data source and resource, the official SDKs,
cloudmux): the files it is read from, how it pages, and what it relies on, each reliance
with how the consumer fails when it breaks. This module reads them and answers for a
finding::

    consumers = Consumers.of(spec)
    consumers.affected(finding)
    # ('Terraform data source huaweicloud_dcs_backups: loops forever, ...', 'yunionio/cloudmux ...: stops ...')
    report_findings = consumers.annotate(findings)   # each with its ``consumers`` filled in

A reliance covers a finding when it names the finding (``names``: the check's invariant id,
or the location, or one of its comma-separated names) or holds its whole location
(``within``: a query made only of parameters the consumer sends), and the finding passes its
filters: ``categories``, ``checks``, and ``seen`` (what the finding saw: see :func:`seen_in`).
A reliance with neither ``names`` nor ``within`` covers every finding of its categories.

A finding of the body's bytes (category ``wire``, :mod:`dcs_contract.contract.wire`) is
matched by the consumer's ``decoder`` instead: what it reads the body with, and for each
wire rule, whether it ``refuses`` the body, ``garbles`` what it reads, or tolerates it;
a rule bounded by the decoder (its nesting depth, its numbers' length) names its limit::

    consumers.limits()    # {'depth-within-decoders': (1000, 10000), ...}: the wire check's bounds

The spec is the only list of consumers and of what they rely on: nothing here names one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from dcs_contract.contract.findings import CATEGORIES, NOBODY, ConsumerImpact, Finding
from dcs_contract.contract.severity import Severity
from dcs_contract.contract.spec import Spec, per_spec
from dcs_contract.contract.wire import WIRE_RULES, sub_detail
from dcs_contract.errors import SpecError

__all__ = [
    "NOBODY",
    "WIRE",
    "Consumer",
    "Consumers",
    "Decoder",
    "DecoderBreak",
    "Reliance",
    "affected_consumers",
    "seen_in",
]

# The category of a finding of the body's bytes: matched by decoders, not by reliances.
WIRE = "wire"

# A schema finding of a field left out says so in its ``actual`` (checks.py): nothing else does.
_MISSING = "missing"


def seen_in(finding: Finding) -> str:
    """What a finding saw, as a reliance's ``seen`` names it.

    The JSON type of a type finding and the value of an enum finding (their ``detail``);
    ``missing`` for a required field left out; otherwise the JSON Schema keyword the value
    broke (``format``, ``pattern``, ``minimum``), which begins a schema finding's ``expected``.
    """
    if finding.detail:
        return finding.detail
    if finding.actual == _MISSING:
        return _MISSING
    return finding.expected.split(" ", 1)[0]


@dataclass(frozen=True, kw_only=True)
class Reliance:
    """One thing a consumer relies on, what covers it (see the module's doc), and how the consumer breaks."""

    what: str
    breaks: str
    names: tuple[str, ...] = ()
    within: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    seen: tuple[str, ...] = ()

    def covers(self, finding: Finding) -> bool:
        parts = finding.location.split(",")
        named = any(name in self.names for name in (finding.check, finding.location, *parts))
        within = bool(self.within) and all(part in self.within for part in parts)
        selected = named or within or not (self.names or self.within)
        return (
            selected
            and (not self.categories or finding.category in self.categories)
            and (not self.checks or finding.check in self.checks)
            and (not self.seen or seen_in(finding) in self.seen)
        )


@dataclass(frozen=True, kw_only=True)
class DecoderBreak:
    """What a decoder does with a body that breaks one wire rule: ``refuses`` it or ``garbles`` it, and how.

    ``seen``: only for these details of the rule's findings; ``limit``: only past this bound.
    """

    rule: str
    how: str
    breaks: str
    seen: tuple[str, ...] = ()
    limit: int | None = None

    def covers(self, finding: Finding) -> bool:
        detail = sub_detail(finding.detail)
        if self.seen and detail not in self.seen:
            return False
        # A limited rule's finding names the largest consumer limit the body is past.
        return self.limit is None or (detail.isdigit() and self.limit <= int(detail))


@dataclass(frozen=True, kw_only=True)
class Decoder:
    """How a consumer decodes the body: what with (``reads``, ``files``), and what each wire rule does to it."""

    reads: str
    files: tuple[str, ...]
    breaks_on: Mapping[str, DecoderBreak]
    tolerates: Mapping[str, str]


@dataclass(frozen=True, kw_only=True)
class Consumer:
    """A known consumer of the endpoint, as the spec's ``x-consumers`` describes it."""

    id: str
    name: str
    repository: str
    files: tuple[str, ...]
    paging: str
    source: str
    relies_on: tuple[Reliance, ...]
    decoder: Decoder

    def breaks(self, finding: Finding) -> str | None:
        """How this consumer breaks on ``finding``; None when none of its reliances (or its decoder's) covers it."""
        if finding.category == WIRE:
            broken = self.decoder.breaks_on.get(finding.check)
            return f"{broken.how}: {broken.breaks}" if broken is not None and broken.covers(finding) else None
        ways = [reliance.breaks for reliance in self.relies_on if reliance.covers(finding)]
        # One reliance's text per way, each once: two reliances may say the same of one finding.
        return "; ".join(dict.fromkeys(ways)) or None


@dataclass(frozen=True)
class Consumers:
    """The spec's consumers, read once; :meth:`of` refuses an ``x-consumers`` it cannot read."""

    consumers: tuple[Consumer, ...]

    @classmethod
    def of(cls, spec: Spec) -> Consumers:
        """The consumers of ``spec``, read on first use and kept while the spec lives."""
        return _consumers_of(spec)

    def limits(self) -> dict[str, tuple[int, ...]]:
        """For each wire rule the decoders bound, every consumer's limit, ascending: the wire check's bounds."""
        limits: dict[str, list[int]] = {}
        for consumer in self.consumers:
            for rule, broken in consumer.decoder.breaks_on.items():
                if broken.limit is not None:
                    limits.setdefault(rule, []).append(broken.limit)
        return {rule: tuple(sorted(set(values))) for rule, values in limits.items()}

    def affected(self, finding: Finding) -> tuple[ConsumerImpact, ...]:
        """Each consumer ``finding`` breaks, and how; ``(NOBODY,)`` when no known consumer relies on it."""
        broken = tuple(
            ConsumerImpact(consumer.name, way)
            for consumer in self.consumers
            if (way := consumer.breaks(finding)) is not None
        )
        return broken or (NOBODY,)

    def annotate(self, findings: Iterable[Finding]) -> list[Finding]:
        """The findings, each naming the consumers it breaks, and graded by them: breaking when one does."""
        return [self._graded(finding, self.affected(finding)) for finding in findings]

    @staticmethod
    def _graded(finding: Finding, consumers: tuple[ConsumerImpact, ...]) -> Finding:
        info = finding.severity is Severity.INFO
        severity = Severity.of_finding(info=info, breaks_consumer=consumers != (NOBODY,))
        return replace(finding, consumers=consumers, severity=severity)


def affected_consumers(spec: Spec, finding: Finding) -> tuple[ConsumerImpact, ...]:
    """The consumers ``finding`` breaks and how, or ``(NOBODY,)``: :meth:`Consumers.affected`."""
    return Consumers.of(spec).affected(finding)


# -- reading x-consumers ------------------------------------------------------------------


@per_spec
def _consumers_of(spec: Spec) -> Consumers:
    entries = spec.operation.get("x-consumers", [])
    if not isinstance(entries, list):
        raise SpecError(f"{spec.path}: x-consumers is {type(entries).__name__}, not a list")
    consumers = tuple(_consumer(spec, index, entry) for index, entry in enumerate(entries))
    ids = [consumer.id for consumer in consumers]
    if len(set(ids)) != len(ids):
        raise SpecError(f"{spec.path}: x-consumers names a consumer twice: {sorted(ids)}")
    return Consumers(consumers)


def _text(spec: Spec, where: str, entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SpecError(f"{spec.path}: {where}.{key}={value!r}, but it must be a non-empty string")
    return " ".join(value.split())


def _texts(spec: Spec, where: str, entry: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise SpecError(f"{spec.path}: {where}.{key}={value!r}, but it must be a list of non-empty strings")
    return tuple(value)


def _mapping(spec: Spec, where: str, entry: Any) -> Mapping[str, Any]:
    if not isinstance(entry, Mapping):
        raise SpecError(f"{spec.path}: {where} is {type(entry).__name__}, not a mapping")
    return entry


# What a reliance may say. YAML 1.1 reads a bare ``on:`` as the key true: an unknown key is
# refused, not silently ignored.
_RELIANCE_KEYS = {"what", "breaks", "names", "within", "categories", "checks", "seen"}


def _reliance(spec: Spec, where: str, raw: Any) -> Reliance:
    entry = _mapping(spec, where, raw)
    unknown_keys = [key for key in entry if key not in _RELIANCE_KEYS]
    if unknown_keys:
        allowed = sorted(_RELIANCE_KEYS)
        raise SpecError(f"{spec.path}: {where} has keys {unknown_keys!r}, but it may have only {allowed}")
    reliance = Reliance(
        what=_text(spec, where, entry, "what"),
        breaks=_text(spec, where, entry, "breaks"),
        **{key: _texts(spec, where, entry, key) for key in ("names", "within", "categories", "checks", "seen")},
    )
    unknown = sorted(set(reliance.categories) - set(CATEGORIES))
    if unknown:
        raise SpecError(f"{spec.path}: {where}.categories names {unknown}, but they must be of {list(CATEGORIES)}")
    if not (reliance.names or reliance.within or reliance.categories):
        raise SpecError(f"{spec.path}: {where} covers nothing: it needs names, within or categories")
    return reliance


def _consumer(spec: Spec, index: int, raw: Any) -> Consumer:
    where = f"x-consumers[{index}]"
    entry = _mapping(spec, where, raw)
    name = _text(spec, where, entry, "name")
    relies_on = entry.get("relies-on")
    if not isinstance(relies_on, Sequence) or isinstance(relies_on, str) or not relies_on:
        raise SpecError(f"{spec.path}: {where}.relies-on must be a non-empty list")
    files = _texts(spec, where, entry, "files")
    if not files:
        raise SpecError(f"{spec.path}: {where}.files must name the public files the consumer is read from")
    return Consumer(
        decoder=_decoder(spec, f"{where}.decoder", entry.get("decoder")),
        id=_text(spec, where, entry, "id"),
        name=name,
        repository=_text(spec, where, entry, "repository"),
        files=files,
        paging=_text(spec, where, entry, "paging"),
        source=_text(spec, where, entry, "x-source"),
        relies_on=tuple(
            _reliance(spec, f"{where}.relies-on[{number}]", reliance) for number, reliance in enumerate(relies_on)
        ),
    )


_DECODER_KEYS = {"reads", "files", "limits", "breaks-on", "tolerates"}
_BREAK_KEYS = {"refuses", "garbles", "seen"}


def _decoder(spec: Spec, where: str, raw: Any) -> Decoder:
    """A consumer's ``decoder``: each wire rule in ``breaks-on`` or in ``tolerates``, and limits where bounded."""
    entry = _mapping(spec, where, raw)
    _known_keys(spec, where, entry, _DECODER_KEYS)
    limits = _mapping(spec, f"{where}.limits", entry.get("limits", {}))
    breaks_on = _mapping(spec, f"{where}.breaks-on", entry.get("breaks-on", {}))
    tolerates = _mapping(spec, f"{where}.tolerates", entry.get("tolerates", {}))
    named = [*breaks_on, *tolerates]
    unknown = sorted(set(named) - set(WIRE_RULES))
    both = sorted(set(breaks_on) & set(tolerates))
    missing = [rule for rule in WIRE_RULES if rule not in named]
    if unknown or both or missing:
        raise SpecError(
            f"{spec.path}: {where} must name each wire rule once, in breaks-on or tolerates: "
            f"unknown {unknown}, in both {both}, missing {missing}; the rules are {list(WIRE_RULES)}"
        )
    for rule, value in limits.items():
        if rule not in breaks_on or not WIRE_RULES[rule].limited:
            raise SpecError(f"{spec.path}: {where}.limits names {rule!r}, but only a limited rule it breaks on has one")
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise SpecError(f"{spec.path}: {where}.limits.{rule}={value!r}, but it must be a positive integer")
    return Decoder(
        reads=_text(spec, where, entry, "reads"),
        files=_texts(spec, where, entry, "files"),
        breaks_on={
            rule: _break(spec, f"{where}.breaks-on.{rule}", rule, value, limits.get(rule))
            for rule, value in breaks_on.items()
        },
        tolerates={rule: _text(spec, f"{where}.tolerates", tolerates, rule) for rule in tolerates},
    )


def _break(spec: Spec, where: str, rule: str, raw: Any, limit: int | None) -> DecoderBreak:
    entry = _mapping(spec, where, raw)
    _known_keys(spec, where, entry, _BREAK_KEYS)
    hows = [how for how in ("refuses", "garbles") if how in entry]
    if len(hows) != 1:
        raise SpecError(f"{spec.path}: {where} must say either refuses or garbles, and how")
    seen = _texts(spec, where, entry, "seen")
    wire_rule = WIRE_RULES[rule]
    if set(seen) - set(wire_rule.details):
        raise SpecError(
            f"{spec.path}: {where}.seen={list(seen)}, but {rule} tells apart only {list(wire_rule.details)}"
        )
    if wire_rule.limited and limit is None:
        raise SpecError(f"{spec.path}: {where} breaks on a bound, so its decoder's limits must name {rule}")
    return DecoderBreak(rule=rule, how=hows[0], breaks=_text(spec, where, entry, hows[0]), seen=seen, limit=limit)


def _known_keys(spec: Spec, where: str, entry: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = [key for key in entry if key not in allowed]
    if unknown:
        raise SpecError(f"{spec.path}: {where} has keys {unknown!r}, but it may have only {sorted(allowed)}")
