"""The timeline: each target's last runs, the life of each of its findings, its latency and what it never showed.

    timeline = read_timeline(Path("history.sqlite"), last=30)
    for target in timeline.targets:
        print(target.label, " ".join(cell.mark for cell in target.cells))  # ✓ ✗ ✓, oldest first

Every text here came from a target or from a file (its URL, its findings' titles and
locations, the run's start time): each is cut to a bound here, and escaped where the
templates lay it out, so that no target can make the page unreadable, or run anything in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from dcs_contract.errors import ConfigError
from dcs_contract.results.coverage import Unseen, unseen
from dcs_contract.results.history import FingerprintHistory, History, HistoryError, LatencyPoint, RunSummary, is_url
from dcs_contract.results.report import VERDICTS

__all__ = [
    "TIMELINE_RUNS",
    "LatencyChart",
    "Timeline",
    "TimelineCell",
    "TimelineTarget",
    "drift_row",
    "read_timeline",
]

# How many runs of each target the timeline shows, by default: a month of nightly runs.
TIMELINE_RUNS = 30
# What of a history one page shows: the targets run most recently, and per target the
# fingerprints seen most recently. The rest is counted, and ``dcs-contract history`` lists it.
MAX_TARGETS = 50
MAX_DRIFT = 200
# The longest text shown of each kind, in characters; a longer one is cut and ends with "…".
LIMITS = {
    "base_url": 200,
    "instance_id": 120,
    "started": 40,
    "verdict": 20,
    "fingerprint": 64,
    "check": 80,
    "category": 40,
    "location": 200,
    "title": 200,
    "source": 300,
}
# What a cell shows besides its colour, so that a reader who cannot tell the colours apart can read it.
MARKS = {"conforms": "✓", "violations": "✗", "untestable": "?", "error": "!"}
UNKNOWN = "unknown"
# How a history names the embedded mock when a run left the base URL out.
_NO_URL = "embedded mock"
# The never-observed values shown per target; the rest are counted (``history --coverage`` lists them).
MAX_UNSEEN = 100
# The latency chart's drawing area, in SVG user units, and its margin for the axis labels.
CHART_WIDTH, CHART_HEIGHT, CHART_MARGIN = 360.0, 90.0, 6.0
# The lines of the chart: (series, what its legend says).
SERIES = (("p50", "p50"), ("p95", "p95"), ("max", "max"))


def clip(text: object, kind: str) -> str:
    """``text`` on one line and at most ``LIMITS[kind]`` characters: ``clip("a" * 500, "title")`` ends with "…"."""
    limit = LIMITS[kind]
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True, kw_only=True)
class TimelineCell:
    """One run of a target: its verdict, and how many fingerprints it brought and took away."""

    run: int
    started: str
    verdict: str  # one of report.VERDICTS, else "unknown" (what a hand-edited history may hold)
    shown_verdict: str  # the verdict as the history holds it, clipped
    complete: bool
    findings: int
    accepted: int
    new: int
    resolved: int

    @property
    def mark(self) -> str:
        return MARKS.get(self.verdict, "·")

    @property
    def text(self) -> str:
        """The cell in words: its tooltip, and what a screen reader reads."""
        cut = "" if self.complete else ", cut short"
        return (
            f"run {self.run}, started {self.started}: {self.shown_verdict}{cut}; "
            f"{self.new} new, {self.resolved} resolved"
        )


def drift_row(life: FingerprintHistory) -> FingerprintHistory:
    """One fingerprint's life at a target, its texts clipped to show (they may hold what a target sent)."""
    return replace(
        life,
        fingerprint=clip(life.fingerprint, "fingerprint"),
        check=clip(life.check, "check"),
        category=clip(life.category, "category"),
        location=clip(life.location, "location"),
        title=clip(life.title, "title"),
        first_started=clip(life.first_started, "started"),
        last_started=clip(life.last_started, "started"),
    )


@dataclass(frozen=True)
class LatencyChart:
    """A target's latency over its last runs as an inline SVG's geometry: numbers only, no text from a target.

    Each series is a run's p50, p95 or max (:class:`LatencyPoint`: seconds to the last byte),
    drawn from 0 to ``top`` seconds; a run without latency has no point.
    """

    points: list[LatencyPoint]
    top: float
    width: float = CHART_WIDTH
    height: float = CHART_HEIGHT

    @classmethod
    def of(cls, points: list[LatencyPoint]) -> LatencyChart | None:
        values = [value for point in points for value in (point.p50, point.p95, point.max) if value is not None]
        if not values:
            return None
        return cls(points, max(max(values), 1e-3))

    def _x(self, index: int) -> float:
        if len(self.points) == 1:
            return self.width / 2
        return CHART_MARGIN + index * (self.width - 2 * CHART_MARGIN) / (len(self.points) - 1)

    def _y(self, value: float) -> float:
        return self.height - CHART_MARGIN - min(value, self.top) / self.top * (self.height - 2 * CHART_MARGIN)

    def polyline(self, series: str) -> str:
        """The ``points`` attribute of one series' line."""
        return " ".join(
            f"{self._x(index):.1f},{self._y(value):.1f}"
            for index, point in enumerate(self.points)
            if (value := getattr(point, series)) is not None
        )

    def dots(self, series: str) -> list[tuple[float, float, str]]:
        """(x, y, its tooltip) for each run of a series."""
        return [
            (round(self._x(index), 1), round(self._y(value), 1), f"run {point.run}: {series} {value:.3f} s")
            for index, point in enumerate(self.points)
            if (value := getattr(point, series)) is not None
        ]

    @property
    def newest(self) -> LatencyPoint:
        return self.points[-1]

    @property
    def summary(self) -> str:
        """The chart in words: its title, and what a screen reader reads."""
        point = self.newest

        def seconds(value: float | None) -> str:
            return "not measured" if value is None else f"{value:.3f} s"

        return (
            f"Latency of the last {len(self.points)} runs with latency, up to {self.top:.3f} s; "
            f"run {point.run}: p50 {seconds(point.p50)}, p95 {seconds(point.p95)}, max {seconds(point.max)}"
        )


@dataclass(frozen=True, kw_only=True)
class TimelineTarget:
    """A target (base URL and instance id): its last runs, oldest first, and its fingerprints."""

    base_url: str
    instance_id: str
    runs: int  # of the target, in the whole history
    cells: list[TimelineCell]
    drift: list[FingerprintHistory]
    more_drift: int  # fingerprints of the target not shown (over MAX_DRIFT)
    latency: LatencyChart | None = None  # None: no run of it measured latency
    # What the spec documents that no run of the target observed (None: no run kept its spec).
    unseen: list[Unseen] | None = field(default_factory=list)
    more_unseen: int = 0

    @property
    def where(self) -> str:
        """How a sentence of the coverage names the target."""
        return f"on {self.label}"

    @property
    def label(self) -> str:
        return f"{self.base_url}, instance {self.instance_id}" if self.instance_id else self.base_url

    @property
    def intermittent(self) -> int:
        return sum(row.intermittent for row in self.drift)


@dataclass(frozen=True, kw_only=True)
class Timeline:
    """What the page's Timeline section shows: per target, its last ``last`` runs and its drift.

    ``seen k of n`` counts the target's last ``last`` *complete* runs (those neither cut short
    nor crashed), as ``dcs-contract history`` does: a run that did not finish says nothing of
    what it did not reach. The cells show every run, complete or not.
    """

    source: str
    last: int
    targets: list[TimelineTarget]
    more_targets: int  # targets not shown (over MAX_TARGETS): those run least recently

    series = SERIES

    @staticmethod
    def seconds(value: float | None) -> str:
        """A latency as the Markdown table shows it."""
        return "not measured" if value is None else f"{value:.3f} s"

    @property
    def legend(self) -> list[tuple[str, str]]:
        """(verdict, the mark its cells show), in the order of report.VERDICTS."""
        return [(verdict, MARKS.get(verdict, "·")) for verdict in VERDICTS]

    @classmethod
    def of(cls, history: History, *, last: int = TIMELINE_RUNS, source: str | None = None) -> Timeline:
        """The timeline of an open history. Reads every run's summary once, and each fingerprint's life."""
        _check_last(last)
        # The history has no query of a target's last runs: its runs are listed once, oldest first.
        by_target: dict[tuple[str | None, str | None], list[RunSummary]] = {}
        for run in history.runs():
            by_target.setdefault((run.base_url, run.instance_id), []).append(run)
        lives: dict[tuple[str | None, str | None], list[FingerprintHistory]] = {}
        for life in history.fingerprints(last=last):
            lives.setdefault((life.base_url, life.instance_id), []).append(life)
        # The targets run most recently, in the order they first appeared.
        recent = set(sorted(by_target, key=lambda key: by_target[key][-1].id, reverse=True)[:MAX_TARGETS])
        shown = [key for key in by_target if key in recent]
        targets = []
        for key in shown:
            runs = by_target[key]
            drift = lives.get(key, [])
            # The fingerprints seen most recently, still in the order they were first seen.
            newest = sorted(range(len(drift)), key=lambda index: drift[index].last_run, reverse=True)[:MAX_DRIFT]
            kept = [drift[index] for index in sorted(newest)]
            spec = history.spec(key)
            never = None if spec is None else unseen(spec, history.observed(key))
            targets.append(
                TimelineTarget(
                    base_url=clip(key[0] if key[0] is not None else _NO_URL, "base_url"),
                    instance_id=clip(key[1] or "", "instance_id"),
                    runs=len(runs),
                    cells=[_cell(run) for run in runs[-last:]],
                    drift=[drift_row(life) for life in kept],
                    more_drift=len(drift) - len(kept),
                    latency=LatencyChart.of(history.latency(key, last=last)),
                    unseen=None if never is None else never[:MAX_UNSEEN],
                    more_unseen=0 if never is None else max(0, len(never) - MAX_UNSEEN),
                )
            )
        return cls(
            source=clip(source if source is not None else history.location, "source"),
            last=last,
            targets=targets,
            more_targets=len(by_target) - len(shown),
        )


def read_timeline(path: Path | str, *, last: int = TIMELINE_RUNS) -> Timeline:
    """The timeline of the history at ``path`` (a file or a ``postgresql://`` URL), which must exist.

    The docs only read a history: an empty file is refused rather than made a history (a
    :class:`HistoryError` says what to do).
    """
    _check_last(last)
    if is_url(path):
        with History.open(path, create=False) as history:
            return Timeline.of(history, last=last)
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise HistoryError(
            f"--history={str(path)!r} is an empty file, not a dcs-contract history: "
            f"a run given --history {str(path)!r} writes one"
        )
    with History.open(path, create=False) as history:
        return Timeline.of(history, last=last, source=str(path))


def _cell(run: RunSummary) -> TimelineCell:
    return TimelineCell(
        run=run.id,
        started=clip(run.started, "started"),
        verdict=run.verdict if run.verdict in VERDICTS else UNKNOWN,
        shown_verdict=clip(run.verdict, "verdict"),
        complete=run.complete,
        findings=run.findings,
        accepted=run.accepted,
        new=run.new,
        resolved=run.resolved,
    )


def _check_last(last: int) -> None:
    if isinstance(last, bool) or not isinstance(last, int) or last < 1:
        raise ConfigError(f"last={last!r}, but the timeline shows 1 or more runs of each target")
