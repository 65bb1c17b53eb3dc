"""Prometheus metrics: the textfile collector's file, parsed with prometheus_client's parser, and a real
Pushgateway (Debian's prometheus-pushgateway) on loopback, read back from its /metrics."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from dcs_contract.cli.app import main
from dcs_contract.contract.findings import Finding
from dcs_contract.contract.severity import Severity
from dcs_contract.redaction import Scrubber
from dcs_contract.results.metrics import JOB, METRICS, RunLabels, push, write_textfile
from dcs_contract.results.report import RequestCounts, RunReport, TargetInfo
from tests.harness.netlab import free_port

PUSHGATEWAY = shutil.which("prometheus-pushgateway") or "/usr/bin/prometheus-pushgateway"
# In CI (.ci/run installs it) a missing Pushgateway fails the tests instead of skipping them.
needs_pushgateway = pytest.mark.skipif(
    not Path(PUSHGATEWAY).exists() and not os.environ.get("CI"), reason="Debian's prometheus-pushgateway is missing"
)
_STARTUP = 10.0
PROJECT = "0605767ae8c8a5a7f8b5c00dcc9a2f35"
INSTANCE = "5ed66239-08c1-4e21-a1ab-2684265d2ce0"
SECRET = "sk-" + "7" * 37


def _report(*, instance_id: str = INSTANCE) -> RunReport:
    finding = Finding(
        check="response_schema_conformance",
        category="schema",
        title="t",
        message="m",
        location="/backup_record_response/*/backup_id",
        expected="required",
        actual="missing",
        severity=Severity.BREAKING,
    )
    entry = {"p50": 0.01, "p95": 0.2, "max": 0.25}
    return RunReport(
        target=TargetInfo(
            base_url="https://dcs.ap-southeast-3.myhuaweicloud.com", project_id=PROJECT, instance_id=instance_id
        ),
        started="2026-12-04T10:00:00+00:00",
        finished="2026-12-04T10:01:30+00:00",
        seed=1,
        cases={"schema-positive": 4},
        requests=RequestCounts(total=5, retries=1, by_status={"200": 4, "429": 1}),
        findings=[finding],
        latency={"schema-positive": {"requests": 4, "headers": entry, "total": entry}},
    )


def _samples(text: str) -> dict[str, list[Sample]]:
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def _value(samples: list[Sample], **labels: str) -> float:
    [value] = [s.value for s in samples if all(s.labels.get(k) == v for k, v in labels.items())]
    return value


def test_the_textfile_holds_every_documented_metric_labelled_by_target_and_instance(tmp_path: Path) -> None:
    report = _report()
    path = tmp_path / "dcs.prom"
    labels = RunLabels.of(report, private_ids=False, scrubber=Scrubber())
    write_textfile(report, path, labels)
    text = path.read_text()
    families = _samples(text)
    assert set(families) == {f"dcs_contract_{name}" for name in METRICS}
    for samples in families.values():
        for sample in samples:
            assert (sample.labels["target"], sample.labels["instance"]) == (
                "dcs.ap-southeast-3.myhuaweicloud.com",
                INSTANCE,
            )
    verdicts = families["dcs_contract_verdict"]
    assert _value(verdicts, verdict="violations") == 1 and _value(verdicts, verdict="conforms") == 0
    findings = families["dcs_contract_findings"]
    assert _value(findings, severity="breaking", category="schema") == 1
    assert _value(findings, severity="contract", category="schema") == 0
    assert _value(families["dcs_contract_requests"], status="429") == 1
    seconds = families["dcs_contract_response_seconds"]
    assert _value(seconds, property="schema-positive", phase="total", quantile="0.95") == 0.2
    assert _value(seconds, property="schema-positive", phase="headers", quantile="1") == 0.25
    assert _value(families["dcs_contract_run_duration_seconds"]) == 90
    assert _value(families["dcs_contract_last_run_timestamp_seconds"]) == 1796378490
    assert _value(families["dcs_contract_degraded"]) == 0
    # No label holds the project id, the text of a finding, or a path.
    assert PROJECT not in text and "backup_id" not in text
    # Readable by the node exporter, which runs as another user; no temporary file left behind.
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["dcs.prom"]


def test_the_textfile_is_replaced_whole_or_left_as_it_was(tmp_path: Path) -> None:
    report = _report()
    labels = RunLabels.of(report, private_ids=False, scrubber=Scrubber())
    path = tmp_path / "dcs.prom"
    path.write_text("# the previous run's\n")
    write_textfile(report, path, labels)
    assert path.read_text().startswith("# HELP dcs_contract_")
    # A target that cannot be replaced (a directory in its place): an error, and nothing else changed.
    blocked = tmp_path / "blocked.prom"
    blocked.mkdir()
    with pytest.raises(OSError):
        write_textfile(report, blocked, labels)
    assert blocked.is_dir() and list(blocked.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocked.prom", "dcs.prom"]


def test_a_private_instance_id_and_a_secret_never_reach_a_label() -> None:
    labels = RunLabels.of(_report(), private_ids=True, scrubber=Scrubber())
    assert labels.instance.startswith("sha256:") and INSTANCE not in labels.instance
    assert labels == RunLabels.of(_report(), private_ids=True, scrubber=Scrubber()), "stable across runs"
    # An instance id that holds a secret (a misplaced SK) is hidden, not shown in part.
    leaked = RunLabels.of(_report(instance_id=f"i-{SECRET}"), private_ids=False, scrubber=Scrubber([SECRET]))
    assert leaked.instance == "hidden"
    mock = RunLabels.of(_report(), private_ids=False, scrubber=Scrubber())
    assert mock.target == "dcs.ap-southeast-3.myhuaweicloud.com"


class Pushgateway:
    """Debian's prometheus-pushgateway on a free loopback port, persisting to its own temporary file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Pushgateway:
        for _ in range(5):
            self.port = free_port()
            flags = [f"--web.listen-address=127.0.0.1:{self.port}", f"--persistence.file={self.directory / 'pg.data'}"]
            with (self.directory / "pushgateway.log").open("ab") as log:
                process = subprocess.Popen([PUSHGATEWAY, *flags], stdout=log, stderr=log)
            if self._ready(process):
                self._process = process
                return self
            process.kill()
            process.wait()
        raise RuntimeError(f"the Pushgateway did not start: {(self.directory / 'pushgateway.log').read_text()}")

    def _ready(self, process: subprocess.Popen[bytes]) -> bool:
        deadline = time.monotonic() + _STARTUP
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200:
                    return True
            except httpx.TransportError:
                time.sleep(0.02)  # a real process starting: polled, as netlab polls tinyproxy's log
        return False

    def metrics(self) -> dict[str, list[Sample]]:
        return _samples(httpx.get(f"{self.url}/metrics", timeout=5.0).text)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[Pushgateway]:
    gateway = Pushgateway(tmp_path).start()
    try:
        yield gateway
    finally:
        gateway.stop()


@needs_pushgateway
def test_a_push_is_grouped_by_target_and_instance(pushgateway: Pushgateway) -> None:
    for instance in ("i-one", "i-two"):
        report = _report(instance_id=instance)
        push(report, pushgateway.url, RunLabels.of(report, private_ids=False, scrubber=Scrubber()))
    families = pushgateway.metrics()
    verdicts = families["dcs_contract_verdict"]
    for instance in ("i-one", "i-two"):
        grouped = {"job": JOB, "target": "dcs.ap-southeast-3.myhuaweicloud.com", "instance": instance}
        assert _value(verdicts, **grouped, verdict="violations") == 1
        assert _value(families["dcs_contract_findings"], **grouped, severity="breaking", category="schema") == 1
    # The gateway's own record of each group's last push: one per group.
    assert len([s for s in families["push_time_seconds"] if s.labels.get("job") == JOB]) == 2


@needs_pushgateway
@pytest.mark.slow
def test_a_run_pushes_its_metrics_and_a_missing_gateway_fails_nothing(
    pushgateway: Pushgateway, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports, prom = tmp_path / "reports", tmp_path / "run.prom"
    flags = ["--max-examples", "5", "--seed", "3", "--mock-drift", "missing-backup-id", "--private-ids"]
    argv = ["run", "--report-dir", str(reports), *flags, "--metrics-file", str(prom), "--pushgateway", pushgateway.url]
    assert main(argv, env={}) == 1
    report = json.loads((reports / "report.json").read_text())
    pushed = pushgateway.metrics()
    requests = {s.labels["status"]: s.value for s in pushed["dcs_contract_requests"]}
    assert requests == {status: float(count) for status, count in report["requests"]["by_status"].items()}
    [verdict] = [s for s in pushed["dcs_contract_verdict"] if s.value == 1]
    assert verdict.labels["verdict"] == "violations" and verdict.labels["target"] == "embedded-mock"
    assert verdict.labels["instance"].startswith("sha256:")
    shown = json.dumps([sample.labels for samples in pushed.values() for sample in samples])
    assert report["target"]["instance_id"] not in shown and report["target"]["project_id"] not in shown
    assert _samples(prom.read_text())["dcs_contract_findings"], "the textfile too"
    # A Pushgateway that is not there: said on stderr, and the verdict's exit code stands.
    capsys.readouterr()
    gone = f"http://127.0.0.1:{pushgateway.port}"
    pushgateway.stop()
    assert main(["run", "--report-dir", str(reports), *flags, "--pushgateway", gone], env={}) == 1
    assert "warning: the metrics were not pushed to" in capsys.readouterr().err


def test_docs_metrics_md_documents_every_metric_with_its_labels() -> None:
    text = (Path(__file__).parents[2] / "docs" / "metrics.md").read_text(encoding="utf-8")
    rows = {
        cells[1].strip().strip("`"): cells[2].strip()
        for line in text.splitlines()
        if line.startswith("| `dcs_contract_") and len(cells := line.split("|")) > 3
    }
    documented = {
        name: {label.strip().strip("`") for label in labels.split(",") if label.strip()}
        for name, labels in rows.items()
    }
    assert documented == {f"dcs_contract_{name}": set(labels) for name, (_, labels) in METRICS.items()}


def test_a_run_whose_outputs_failed_is_exported_as_an_error_not_as_its_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exit code is 4 when the history cannot be appended to: the metrics must not say conforms."""
    from dcs_contract.cli import history as run_history

    def full_disk(*args: object, **kwargs: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(run_history, "record", full_disk)
    metrics = tmp_path / "dcs.prom"
    flags = ["run", "--max-examples", "3", "--no-confirm", "--report-dir", str(tmp_path / "reports")]
    flags += ["--history", str(tmp_path / "history.sqlite"), "--metrics-file", str(metrics)]
    assert main(flags, env={}) == 4
    verdicts = _samples(metrics.read_text())["dcs_contract_verdict"]
    assert _value(verdicts, verdict="error") == 1 and _value(verdicts, verdict="conforms") == 0
