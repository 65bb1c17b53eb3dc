"""What a run history gives back: runs, fingerprints' lives, latency points; and its one error.

These are plain records, the same whichever database holds the history.
"""

from __future__ import annotations

from dataclasses import dataclass

from dcs_contract.errors import ConfigError

__all__ = ["FingerprintHistory", "HistoryError", "LatencyPoint", "RunSummary", "Target"]

# A target is its base URL and its instance id: runs are compared only within one.
Target = tuple[str | None, str | None]


class HistoryError(ConfigError):
    """The --history file or database cannot be used as it is: the message names it and what to do."""


class NoPreviousRun(HistoryError):
    """The history has no runs yet, or none to compare the newest with: the first night, not damage."""


@dataclass(frozen=True, kw_only=True)
class RunSummary:
    """One run as ``dcs-contract history`` lists it.

    ``findings`` are the run's new findings (those that decide its verdict), ``accepted`` those
    its baseline accepted. ``new`` and ``resolved`` count the fingerprints it saw (both kinds)
    that ``previous`` did not, and those ``previous`` saw that it did not; ``previous`` is the
    latest complete run of the same target before it (None for its first: then every
    fingerprint is new). An incomplete run resolves nothing.
    """

    id: int
    started: str
    finished: str
    base_url: str | None
    instance_id: str | None
    verdict: str
    complete: bool
    requests: int
    findings: int
    accepted: int
    new: int
    resolved: int
    previous: int | None
    seed: int | None
    harness_version: str | None
    spec_sha256: str | None


@dataclass(frozen=True, kw_only=True)
class FingerprintHistory:
    """One fingerprint's life at one target.

    ``first_run``/``last_run`` (with their ``started``) are the first and last runs that saw it,
    of any run of the target. ``window`` is the number of the target's latest complete runs
    looked at (``last``, or fewer when it has fewer), ``seen`` how many of them saw it.
    ``intermittent``: within the window, oldest first, some run after its first sighting did
    not see it and a later run saw it again (seen, absent, seen). A finding that appeared and
    stays, or that was fixed and stays fixed, is not intermittent. ``check``, ``category``,
    ``location`` and ``title`` are those of its last sighting.
    """

    fingerprint: str
    base_url: str | None
    instance_id: str | None
    check: str
    category: str
    location: str
    title: str
    first_run: int
    first_started: str
    last_run: int
    last_started: str
    seen: int
    window: int
    intermittent: bool


@dataclass(frozen=True, kw_only=True)
class LatencyPoint:
    """One run's latency at one target, over its properties: what the timeline's chart draws.

    In seconds to the last byte: ``p50`` and ``p95`` are the properties' own, each weighted by
    the requests it sent (a report keeps percentiles per property, not every answer), ``max``
    the slowest answer of the run. None where the run's report carried no such value; a run
    whose report carried no latency at all (older reports) has no point.
    """

    run: int
    started: str
    requests: int
    p50: float | None
    p95: float | None
    max: float | None
