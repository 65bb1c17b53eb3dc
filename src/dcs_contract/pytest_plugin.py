"""The pytest plugin: a team's own contract tests of the backups endpoint, as safe as ``dcs-contract run``.

Installed with dcs-contract (the ``pytest11`` entry point), it gives a test the spec, the
target and a client that sends only GET within one budget for the whole session::

    @pytest.mark.dcs_rule("every backup's instance_id is the instance's")
    def test_backups_belong_to_their_instance(dcs_pages, dcs_target):
        for record in dcs_pages.records(limit=100):
            assert record["instance_id"] == dcs_target.instance_id, record["backup_id"]

Fixtures: ``dcs_spec``, ``dcs_target`` (from DCS_BASE_URL and the rest of ``dcs-contract
run``'s environment, else the embedded mock, served once for the session), ``dcs_settings``,
``dcs_guard`` (the session's one :class:`~dcs_contract.transport.guard.GuardedTransport`),
``dcs_client`` (a signed ``httpx.Client`` through it) and ``dcs_pages`` (a :class:`PageWalk`).
Under pytest-xdist each worker gets its share of the budget and of the rate limit.

A failing test marked ``dcs_rule`` is a finding; ``--dcs-report-dir DIR`` writes the
session's findings as ``dcs-contract run`` writes its own (report.json, report.md, junit.xml).
With ``--dcs-judge-pages``, every page ``dcs_pages`` fetches is also judged as a run judges a
walk page (engine/judge.py: the response checks and the page's invariants, then the walk's),
and what it shows joins the report's findings, whatever the test asserts.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from dcs_contract.contract.findings import CATEGORIES, Finding, RequestInfo
from dcs_contract.contract.formats import format_dcs_timestamp, is_dcs_timestamp, printable
from dcs_contract.contract.invariants import Page, Walk
from dcs_contract.contract.spec import OPERATION_PATH, Spec, load_spec
from dcs_contract.engine.judge import ExchangeJudge, Listing
from dcs_contract.engine.operation import Operation
from dcs_contract.engine.suite import embedded_mock, guarded
from dcs_contract.errors import ConfigError, DcsContractError, ResponseTooLarge, SpecError
from dcs_contract.mock.drift import DRIFTS
from dcs_contract.redaction import Scrubber
from dcs_contract.results.report import (
    BudgetSummary,
    RequestCounts,
    RunReport,
    SpecInfo,
    TargetInfo,
    utc_now,
    write_reports,
)
from dcs_contract.settings import config as config_file
from dcs_contract.settings.table import OPTIONS, plugin_options
from dcs_contract.settings.target import RunSettings, Target, check_output_dir
from dcs_contract.transport.guard import GuardedTransport, TrafficMark, TrafficStats, build_client
from dcs_contract.transport.network import Network, proxy_secrets_in
from dcs_contract.transport.signing import Credentials
from dcs_contract.version import harness_version

__all__ = ["DEFAULT_MAX_PAGES", "RULE_CHECK_PREFIX", "PageWalk"]

# 50 pages are 50,000 records at limit=1000 (500 at the default limit of 10), and a twelfth of
# a live session's budget (600 requests): a walk that runs away cannot spend the session's.
DEFAULT_MAX_PAGES = 50
# A team rule's finding is checked as "team-rule:<test name>": findings.CATEGORIES has no
# category of its own for team rules, so the check names the rule, the marker its category.
RULE_CHECK_PREFIX = "team-rule:"
_DEFAULT_RULE_CATEGORY = "schema"
# What a finding keeps of the requests its test sent: the last ones, which it was reading when it failed.
_KEPT_REQUESTS = 10

# Set on a test's reports, which pytest-xdist carries from the worker to the controller.
_RULE_ATTR = "dcs_rule"
_TRAFFIC_ATTR = "dcs_traffic"
_JUDGED_ATTR = "dcs_judged"


# -- options ------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dcs-contract", "dcs-contract: contract tests of the DCS backups endpoint")
    # The settings the plugin shares with `dcs-contract run`, as the settings table defines them.
    for flag, keywords in plugin_options():
        group.addoption(flag, **keywords)
    group.addoption("--dcs-profile", metavar="NAME", default=None, help="take the settings of this config profile")
    # Off by default: a team's session reports its own rules unless it asks for the contract's too.
    group.addoption(
        "--dcs-judge-pages",
        action="store_true",
        default=False,
        help="judge every page dcs_pages fetches as a run judges a walk page; its findings join the report",
    )


@dataclass(frozen=True)
class _Options:
    """The plugin's options, checked once, at configure time."""

    spec: Path | None = None
    base_url: str | None = None
    region: str | None = None
    project_id: str | None = None
    instance_id: str | None = None
    max_requests: int | None = None
    rate_limit: float | None = None
    max_examples: int | None = None
    seed: int | None = None
    mock_drift: tuple[str, ...] = ()
    report_dir: Path | None = None

    @classmethod
    def of(cls, config: pytest.Config, profile: Mapping[str, Any]) -> _Options:
        """The flags given, over the profile's values; a bad value is a UsageError naming its flag."""
        given = {f.name: config.getoption(f"dcs_{f.name}") for f in fields(cls)}
        given["mock_drift"] = tuple(given["mock_drift"]) or None
        values = {f.name: given[f.name] if given[f.name] is not None else profile.get(f.name) for f in fields(cls)}
        if values["mock_drift"] is not None:
            values["mock_drift"] = tuple(values["mock_drift"])
        if values["report_dir"] is not None:
            values["report_dir"] = Path(values["report_dir"])
        options = cls(**{name: value for name, value in values.items() if value is not None})
        for name in ("max_requests", "rate_limit", "max_examples", "seed"):
            try:
                OPTIONS[name].check(getattr(options, name), f"--dcs-{OPTIONS[name].flag[2:]}")
            except ConfigError as exc:
                raise pytest.UsageError(str(exc)) from None
        unknown = [name for name in options.mock_drift if name not in DRIFTS]
        if unknown:
            raise pytest.UsageError(
                f"--dcs-mock-drift={unknown[0]!r} is not a drift switch; known: {', '.join(sorted(DRIFTS))}"
            )
        if options.report_dir is not None:
            try:
                check_output_dir(options.report_dir, f"--dcs-report-dir={str(options.report_dir)!r}")
            except ConfigError as exc:
                raise pytest.UsageError(str(exc)) from None
        return options


@dataclass(frozen=True)
class _Profile:
    """``--dcs-profile NAME`` as :func:`~dcs_contract.settings.config.resolve` reads it: flag > env > profile > file."""

    values: dict[str, Any]  # the options it gives, by their names: spec, max_requests, report_dir, ...
    target: Callable[[], Target]  # the target it names, with the environment's credentials
    overrides: dict[str, Any]  # RunSettings.for_target's keyword arguments: timeout, max_body, ...
    network: Callable[[], Network]  # how a live target is reached: the file's proxy and TLS over the environment's


def _profile(name: str | None, flags: Mapping[str, Any]) -> tuple[_Profile | None, str | None]:
    """The configuration file's settings under the flags, and a line for the header; None without a file.

    Read as ``dcs-contract run`` reads them (:func:`dcs_contract.settings.config.resolve`): the file's
    defaults, and the profile ``--dcs-profile`` or ``DCS_PROFILE`` names. A profile named with
    no file to read it from is a usage error, never ignored: it may hold the budget.
    """
    given = {key: value for key, value in flags.items() if value is not None}
    try:
        resolved = config_file.resolve(given, os.environ, cwd=Path.cwd(), profile=name)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    if resolved.file is None:
        return None, None
    values = {key: resolved.value(key) for key in flags if resolved[key].source != "built-in"}
    profile = _Profile(
        values,
        lambda: resolved.target(os.environ),
        dict(resolved.run_overrides()),
        lambda: resolved.network(os.environ),
    )
    named = f", profile {resolved.profile!r}" if resolved.profile else ""
    return profile, f"settings of {resolved.file_shown}{named}"


# -- the session --------------------------------------------------------------------------


@dataclass
class _Rules:
    """What the session's team rules showed, gathered from every test report (every worker's)."""

    cases: Counter[str] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    attempts: int = 0
    retries: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    # What --dcs-judge-pages judged: each check and invariant's evaluations, and their findings.
    judged: Counter[str] = field(default_factory=Counter)

    def gather(self, report: pytest.TestReport) -> None:
        outcome: dict[str, Any] | None = getattr(report, _RULE_ATTR, None)
        if outcome is not None:
            if "error" in outcome:
                self.errors.append(outcome["error"])
            elif "skipped" in outcome:
                self.skipped[outcome["check"]] = outcome["skipped"]
            else:
                self.cases[outcome["check"]] += 1
                if "finding" in outcome:
                    self.findings.append(Finding.from_dict(outcome["finding"]))
        judged: dict[str, Any] | None = getattr(report, _JUDGED_ATTR, None)
        if judged is not None:
            self.judged.update(judged["evaluated"])
            known = {finding.fingerprint for finding in self.findings}
            for shown in judged["findings"]:
                finding = Finding.from_dict(shown)
                if finding.fingerprint not in known:
                    known.add(finding.fingerprint)
                    self.findings.append(finding)
        traffic: dict[str, Any] | None = getattr(report, _TRAFFIC_ATTR, None)
        if traffic is not None:
            self.attempts += traffic["attempts"]
            self.retries += traffic["retries"]
            self.by_status.update(traffic["by_status"])


# eq=False: a plugin is hashed by identity (pluggy keeps plugins in sets).
@dataclass(eq=False)
class _Session:
    """The plugin's state for one pytest session (one worker's, under pytest-xdist), registered as a plugin.

    Its hooks see every test report: in a single process, and in pytest-xdist's controller,
    which alone writes the report, from what the workers' reports carry.
    """

    config: pytest.Config
    options: _Options
    workers: int
    profile: _Profile | None = None
    profile_note: str | None = None
    started: str = field(default_factory=utc_now)
    spec: Spec | None = None
    configured: Target | None = None
    target: Target | None = None
    guard: GuardedTransport | None = None
    rules: _Rules = field(default_factory=_Rules)
    written: list[Path] = field(default_factory=list)
    # --dcs-judge-pages: the judge of this worker's page walks, and the findings not yet on a report.
    judge: ExchangeJudge | None = None
    pending: list[Finding] = field(default_factory=list)
    reported: Counter[str] = field(default_factory=Counter)

    def configured_target(self) -> Target:
        """The target as the environment and the flags configure it; ``base_url=None``, the embedded mock."""
        if self.configured is None:
            try:
                target = self._from_env()
            except ConfigError as exc:
                pytest.fail(f"dcs-contract: {exc}", pytrace=False)
            if self.options.mock_drift and not target.is_mock:
                pytest.fail(
                    "dcs-contract: --dcs-mock-drift applies to the embedded mock only; "
                    "unset DCS_BASE_URL/DCS_REGION (and --dcs-base-url) to use it",
                    pytrace=False,
                )
            self.configured = target
        return self.configured

    def _from_env(self) -> Target:
        if self.profile is not None:
            return self.profile.target()
        options = self.options
        return Target.from_env(
            os.environ,
            base_url=options.base_url,
            region=options.region,
            project_id=options.project_id,
            instance_id=options.instance_id,
        )

    def page_judge(self, spec: Spec) -> ExchangeJudge | None:
        """The judge of the pages dcs_pages fetches, with --dcs-judge-pages; None without."""
        if self.judge is None and self.config.getoption("dcs_judge_pages"):
            self.judge = ExchangeJudge(spec)
        return self.judge

    def keep(self, findings: Sequence[Finding]) -> None:
        self.pending.extend(finding.scrubbed(self.scrubber()) for finding in findings)

    def judged_since_last_report(self) -> dict[str, Any] | None:
        """What the page walks judged since the last test's report, as plain data that xdist can carry."""
        if self.judge is None:
            return None
        evaluated = self.judge.evaluated - self.reported
        self.reported.update(evaluated)
        findings, self.pending = self.pending, []
        if not evaluated and not findings:
            return None
        return {"evaluated": dict(evaluated), "findings": [finding.as_dict() for finding in findings]}

    def scrubber(self) -> Scrubber:
        resolved = self.target.credentials.secrets() if self.target is not None else []
        return Scrubber([*Credentials.secrets_in(os.environ), *proxy_secrets_in(os.environ), *resolved])

    def mark(self) -> TrafficMark | None:
        return self.guard.stats.mark() if self.guard is not None else None

    def traffic_since(self, mark: TrafficMark | None) -> TrafficStats | None:
        """What the guard sent since ``mark`` (since it was made, when None); None without a guard."""
        if self.guard is None:
            return None
        return self.guard.stats if mark is None else self.guard.stats.since(mark)

    # -- hooks ------------------------------------------------------------------------------

    def pytest_report_header(self) -> list[str]:
        return [f"dcs-contract: {self.profile_note}"] if self.profile_note else []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.rules.gather(report)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.options.report_dir is None or hasattr(self.config, "workerinput"):
            return
        try:
            self.written = write_reports(self.report(), self.options.report_dir, scrubber=self.scrubber())
        except OSError as exc:
            # A full disk is no test's failure, but the session must not pass without its reports.
            self.rules.errors.append(f"the reports could not be written to {self.options.report_dir}: {exc}")
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        findings = self.rules.findings
        if not findings and not self.rules.errors and not self.written:
            return
        terminalreporter.section("dcs-contract team rules")
        for finding in findings:
            terminalreporter.line(f"[{finding.category}] {finding.title}: {finding.actual} ({finding.location})")
        for error in self.rules.errors:
            terminalreporter.line(error)
        if self.written:
            terminalreporter.line(f"reports: {', '.join(str(path) for path in self.written)}")

    # -- the report -------------------------------------------------------------------------

    def report(self) -> RunReport:
        """The session's team rules as a run's report: their findings, and why any could not be tested."""
        rules = self.rules
        errors = list(rules.errors)
        if not rules.cases and not rules.judged and not errors:
            errors.append("no test marked dcs_rule ran: the session tested no team rule")
        try:
            target = self.target or self.configured or self._from_env()
            described = target.describe()
            budget = self.options.max_requests or RunSettings.for_target(target).max_requests
        except ConfigError:
            described, budget = TargetInfo(), self.options.max_requests or RunSettings.max_requests
        spec = self.spec
        if spec is None:
            try:
                spec = load_spec(self.options.spec)
            except SpecError:
                spec = None
        return RunReport(
            target=described,
            started=self.started,
            finished=utc_now(),
            seed=self.options.seed,
            cases=dict(rules.cases),
            requests=RequestCounts(total=rules.attempts, retries=rules.retries, by_status=dict(rules.by_status)),
            findings=rules.findings,
            error="\n".join(errors) or None,
            skipped=dict(rules.skipped),
            evaluated={**rules.judged, **rules.cases},
            spec=SpecInfo(spec.sha256, spec.document) if spec is not None else None,
            harness_version=harness_version(),
            # A session's budget is a cap alone: its tests plan no probes and keep no reserve.
            budget=BudgetSummary(max_requests=budget, probe_plan=0, reserve=0),
        )


_SESSION = pytest.StashKey[_Session]()
_MARK = pytest.StashKey[TrafficMark | None]()


def _session(config: pytest.Config) -> _Session:
    return config.stash[_SESSION]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "dcs_rule(description, *, category='schema'): a team's contract rule; when its test fails, "
        "the failure is a finding of the session's report (--dcs-report-dir)",
    )
    flags = {f.name: config.getoption(f"dcs_{f.name}") for f in fields(_Options) if f.name != "mock_drift"}
    profile, note = _profile(config.getoption("dcs_profile"), flags)
    workerinput: dict[str, Any] = getattr(config, "workerinput", {})
    session = _Session(
        config,
        _Options.of(config, profile.values if profile is not None else {}),
        workers=int(workerinput.get("workercount", 1)),
        profile=profile,
        profile_note=note,
    )
    config.stash[_SESSION] = session
    config.pluginmanager.register(session, "dcs-contract-session")


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(_SESSION, None)
    if session is not None:
        config.pluginmanager.unregister(session)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        _rule_of(item)  # a marker written wrong is found before anything is sent


# -- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def dcs_spec(pytestconfig: pytest.Config) -> Spec:
    """The contract, from ``--dcs-spec`` or the bundled spec."""
    session = _session(pytestconfig)
    try:
        session.spec = load_spec(session.options.spec)
    except SpecError as exc:
        pytest.fail(f"dcs-contract: --dcs-spec: {exc}", pytrace=False)
    return session.spec


@pytest.fixture(scope="session")
def dcs_target(pytestconfig: pytest.Config, dcs_spec: Spec) -> Iterator[Target]:
    """The target of the session: the one DCS_BASE_URL (etc.) configures, or the embedded mock on loopback."""
    session = _session(pytestconfig)
    configured = session.configured_target()
    if not configured.is_mock:
        session.target = configured
        yield configured
        return
    with embedded_mock(dcs_spec, configured, drifts=session.options.mock_drift) as (target, _state):
        session.target = target
        yield target


@pytest.fixture(scope="session")
def dcs_settings(pytestconfig: pytest.Config) -> RunSettings:
    """The session's settings, gentle on a live target; under pytest-xdist, this worker's share of budget and rate."""
    session = _session(pytestconfig)
    options = session.options
    target = session.configured_target()
    try:
        # A live target is reached as `dcs-contract run` reaches it (proxies, CAs); the embedded mock directly.
        if target.is_mock:
            network = Network.direct()
        else:
            network = session.profile.network() if session.profile is not None else Network(env=os.environ)
        settings = RunSettings.for_target(
            target,
            network=network,
            **{
                **(session.profile.overrides if session.profile is not None else {}),
                "max_examples": options.max_examples,
                "seed": options.seed,
                "max_requests": options.max_requests,
                "rate_limit": options.rate_limit,
            },
        )
    except ConfigError as exc:
        pytest.fail(f"dcs-contract: {exc}", pytrace=False)
    if session.workers == 1:
        return settings
    return replace(
        settings,
        max_requests=max(1, settings.max_requests // session.workers),
        rate_limit=settings.rate_limit / session.workers if settings.rate_limit else None,
    )


@pytest.fixture(scope="session")
def dcs_guard(pytestconfig: pytest.Config, dcs_settings: RunSettings) -> Iterator[GuardedTransport]:
    """The one guarded transport of the session: GET only, one budget and one rate limit for every test."""
    session = _session(pytestconfig)
    guard = guarded(dcs_settings, shared=True)
    session.guard = guard
    yield guard
    guard.shutdown()


@pytest.fixture(scope="session")
def dcs_client(dcs_target: Target, dcs_settings: RunSettings, dcs_guard: GuardedTransport) -> Iterator[httpx.Client]:
    """A signed client bound to the target, through the session's guard: ``dcs_client.get(path, params=...)``.

    Session-scoped, as the guard is, so that a team's own session fixtures can send through it
    (a walk made once and read by many rules).
    """
    assert dcs_target.base_url is not None and dcs_target.project_id is not None
    auth = dcs_target.credentials.auth(dcs_target.project_id)
    with build_client(dcs_target.base_url, auth=auth, guard=dcs_guard, timeout=dcs_settings.timeout) as client:
        yield client


@pytest.fixture(scope="session")
def dcs_pages(pytestconfig: pytest.Config, dcs_client: httpx.Client, dcs_spec: Spec, dcs_target: Target) -> PageWalk:
    """Walk the pages of a query: ``for page in dcs_pages(limit=100)``, or ``dcs_pages.records(...)``.

    With ``--dcs-judge-pages`` each page is judged as a run judges a walk page, into the report.
    """
    session = _session(pytestconfig)
    return PageWalk(dcs_client, dcs_spec, dcs_target, judge=session.page_judge(dcs_spec), keep=session.keep)


class PageWalk:
    """The pages of one query of the backups endpoint, in order, within the session's budget.

        for page in dcs_pages(begin_time=datetime(2024, 1, 1, tzinfo=UTC), limit=100):
            assert page.entries <= page.limit
        for record in dcs_pages.records(limit=100):
            assert record["backup_type"] in ("auto", "manual")

    A walk stops after the page that reaches ``total_num``, at an empty page (a 204), or
    after ``max_pages`` pages. An answer that is not a page (a 400, a body without
    ``total_num``) fails the test, with the request and what came back.

    Given a ``judge``, each answer is judged as the run judges a walk page (a ``Listing``),
    and a walk from offset 0 that ends as its own ``Walk``; ``keep`` gets the findings.
    """

    def __init__(
        self,
        client: httpx.Client,
        spec: Spec,
        target: Target,
        *,
        max_pages: int = DEFAULT_MAX_PAGES,
        judge: ExchangeJudge | None = None,
        keep: Callable[[Sequence[Finding]], None] | None = None,
    ) -> None:
        assert target.project_id is not None and target.instance_id is not None
        self._client = client
        self._spec = spec
        self._target = target
        self._max_pages = _positive("max_pages", max_pages)
        self._judge = judge
        self._keep = keep
        self._operation = Operation.of(spec) if judge is not None else None

    def __call__(
        self,
        *,
        begin_time: datetime | str | None = None,
        end_time: datetime | str | None = None,
        limit: int | None = None,
        offset: int = 0,
        instance_id: str | None = None,
        max_pages: int | None = None,
    ) -> Iterator[Page]:
        """Each page of the query, from ``offset`` on; ``instance_id`` defaults to the target's."""
        query: dict[str, str | int] = {}
        for name, moment in (("begin_time", begin_time), ("end_time", end_time)):
            if moment is not None:
                query[name] = _timestamp(name, moment)
        if limit is not None:
            bounds = self._spec.query_parameters["limit"]
            if isinstance(limit, bool) or not bounds["minimum"] <= limit <= bounds["maximum"]:
                raise ValueError(f"limit={limit!r}, but it must be {bounds['minimum']}..{bounds['maximum']}")
            query["limit"] = limit
        if isinstance(offset, bool) or offset < 0:
            raise ValueError(f"offset={offset!r}, but it must be 0 or more")
        pages = self._max_pages if max_pages is None else _positive("max_pages", max_pages)
        instance = instance_id or self._target.instance_id
        assert instance is not None
        path = OPERATION_PATH.format(project_id=self._target.project_id, instance_id=instance)
        return self._walk(path, query, offset, instance, pages)

    def records(self, **query: Any) -> Iterator[dict[str, Any]]:
        """Each record of each page of the query (the arguments of a walk)."""
        for page in self(**query):
            yield from page.records

    def _walk(self, path: str, query: dict[str, str | int], offset: int, instance: str, pages: int) -> Iterator[Page]:
        walked: list[Page] = []
        for _ in range(pages):
            response = self._client.get(path, params={**query, "offset": offset})
            page = self._read(response, instance)
            if page is None:
                raise AssertionError(
                    f"GET {response.request.url} was answered {response.status_code}, which is not a page of "
                    f"backups: {printable(response.text[:300])}"
                )
            walked.append(page)
            yield page
            offset = page.offset + page.limit
            if page.entries == 0 or offset >= page.total:
                break
        if walked and walked[0].offset == 0:
            # As the run's walk: complete when it reached the first page's total_num.
            self._judged(self._judge.evidence(Walk(tuple(walked), Walk.reaches_end(walked))) if self._judge else [])

    def _read(self, response: httpx.Response, instance: str) -> Page | None:
        """The answer as a page; judged first, as a run judges a walk page, when the walk has a judge."""
        if self._judge is None or self._operation is None:
            return Page.read(response, self._spec.defaults, instance)
        assert self._target.project_id is not None
        case = self._operation.case(
            path_parameters={"project_id": self._target.project_id, "instance_id": instance},
            query={name: str(value) for name, value in response.request.url.params.items()},
        )
        judged = self._judge.exchange(case, response, Listing())
        self._judged(judged.findings)
        return judged.page

    def _judged(self, findings: Sequence[Finding]) -> None:
        if findings and self._keep is not None:
            self._keep(findings)


def _positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r}, but it must be 1 or more")
    return value


def _timestamp(name: str, moment: datetime | str) -> str:
    """A query time as the endpoint takes it: ``yyyyMMddHHmmss``, UTC."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError(f"{name}={moment!r} has no timezone: give an aware datetime (tzinfo=UTC)")
        return format_dcs_timestamp(moment)
    if not is_dcs_timestamp(moment):
        raise ValueError(f"{name}={moment!r}, but it must be a real time written yyyyMMddHHmmss (UTC)")
    return moment


# -- team rules ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    check: str
    description: str
    category: str


def _rule_of(item: pytest.Item) -> _Rule | None:
    marker = item.get_closest_marker("dcs_rule")
    if marker is None:
        return None
    name = getattr(item, "originalname", item.name)
    description = marker.args[0] if marker.args else marker.kwargs.get("description")
    category = marker.kwargs.get("category", _DEFAULT_RULE_CATEGORY)
    if not isinstance(description, str) or not description.strip():
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.dcs_rule needs a description of the rule, a string")
    if category not in CATEGORIES:
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.dcs_rule(category={category!r}), "
            f"but it must be one of {', '.join(CATEGORIES)}"
        )
    return _Rule(RULE_CHECK_PREFIX + name, description.strip(), category)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # The traffic of a test counts from its setup on: its fixtures may send requests too.
    item.stash[_MARK] = _session(item.config).mark()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    session = _session(item.config)
    rule = _rule_of(item)
    if rule is not None:
        outcome = _rule_outcome(item, call, report, rule, session)
        if outcome is not None:
            setattr(report, _RULE_ATTR, outcome)
    if report.when == "teardown":
        judged = session.judged_since_last_report()
        if judged is not None:
            setattr(report, _JUDGED_ATTR, judged)
        traffic = session.traffic_since(item.stash.get(_MARK, None))
        if traffic is not None and traffic.attempts:
            sent = {"attempts": traffic.attempts, "retries": traffic.retries, "by_status": dict(traffic.by_status)}
            setattr(report, _TRAFFIC_ATTR, sent)
    return report


def _rule_outcome(
    item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport, rule: _Rule, session: _Session
) -> dict[str, Any] | None:
    """What one report of a rule's test tells the session's report, as plain data that xdist can carry."""
    untested = f"the rule {rule.description!r} ({item.nodeid}) could not be tested"
    if report.skipped:
        reason = getattr(report, "wasxfail", None) or (
            report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        )
        return {"check": rule.check, "skipped": session.scrubber().text(str(reason))}
    if report.when != "call":
        if report.failed:
            crash = call.excinfo.exconly() if call.excinfo is not None else report.longreprtext
            return {"check": rule.check, "error": session.scrubber().text(f"{untested}: its {report.when}: {crash}")}
        return None
    if report.passed:
        return {"check": rule.check}
    exc = call.excinfo.value if call.excinfo is not None else None
    if isinstance(exc, DcsContractError) and not isinstance(exc, ResponseTooLarge):
        # The budget spent, the target gone, a POST refused: nothing is known of the rule.
        text = f"{untested}: {type(exc).__name__}: {exc}"
        return {"check": rule.check, "error": session.scrubber().text(text)}
    failure = call.excinfo.exconly() if call.excinfo is not None else report.longreprtext
    return {"check": rule.check, "finding": _finding(item, rule, failure, exc, session).as_dict()}


def _finding(item: pytest.Item, rule: _Rule, failure: str, exc: BaseException | None, session: _Session) -> Finding:
    """The failure of a rule's test as a finding, with the last requests the test sent to reproduce it."""
    traffic = session.traffic_since(item.stash.get(_MARK, None))
    sent = traffic.exchanges[-_KEPT_REQUESTS:] if traffic is not None else []
    lines = (str(exc) if exc is not None else failure).strip().splitlines()
    return Finding(
        check=rule.check,
        # An answer over --max-body is the target's fault, as the engine files it.
        category="transport" if isinstance(exc, ResponseTooLarge) else rule.category,
        title=rule.description,
        message=failure,
        location=item.nodeid,
        expected=rule.description,
        actual=lines[0] if lines else failure,
        requests=tuple(RequestInfo(method=exchange.method, url=exchange.url) for exchange in sent),
        status=sent[-1].status if sent else None,
    ).scrubbed(session.scrubber())
