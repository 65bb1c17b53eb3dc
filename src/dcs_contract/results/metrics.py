"""A run's Prometheus metrics: the textfile collector's file (``--metrics-file``) and a Pushgateway (``--pushgateway``).

Batch jobs are watched this way: the last run's verdict, what it found and how fast the
target answered, as gauges that stay until the next run replaces them::

    labels = RunLabels.of(report, private_ids=False, scrubber=scrubber)
    write_textfile(report, Path("/var/lib/node_exporter/dcs.prom"), labels)
    push(report, "http://127.0.0.1:9091", labels)

Every metric and its labels (docs/metrics.md):

- ``dcs_contract_verdict{verdict}``: 1 for the run's verdict, 0 for each other one;
- ``dcs_contract_degraded``: 1 when an answer was slower than ``--degraded-response-time``;
- ``dcs_contract_findings{severity,category}``: the run's new findings;
- ``dcs_contract_requests{status}``: what was sent, by the answer's status (``error``: none came);
- ``dcs_contract_response_seconds{property,phase,quantile}``: p50 (0.5), p95 (0.95) and max (1)
  of each property's answers, ``phase`` ``headers`` or ``total`` (the last byte);
- ``dcs_contract_last_run_timestamp_seconds``: when the run finished (Unix time);
- ``dcs_contract_run_duration_seconds``: how long it ran.

In the textfile each also carries ``target`` (the base URL's host, or ``embedded-mock``) and
``instance`` (the instance id, or with ``private_ids`` a hash of it); a Pushgateway gets those
two as its grouping key instead. No label holds the project id, a credential, or the text of
a finding; every label value goes through the run's scrubber.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Gauge, generate_latest, push_to_gateway

from dcs_contract.contract.findings import CATEGORIES
from dcs_contract.contract.severity import SEVERITIES
from dcs_contract.redaction import Scrubber
from dcs_contract.results.report import VERDICTS, RunReport

__all__ = ["JOB", "METRICS", "RunLabels", "push", "registry_of", "write_textfile"]

# The Pushgateway's job: one per harness, the grouping key tells the targets apart.
JOB = "dcs_contract"
_PREFIX = "dcs_contract_"
# Each metric's name (without its prefix), help and labels: the docs' table is checked against it.
METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "verdict": ("1 for the last run's verdict, 0 for the others", ("verdict",)),
    "degraded": ("1 when an answer was slower than --degraded-response-time", ()),
    "findings": ("The last run's new findings, by severity and category", ("severity", "category")),
    "requests": ("The last run's requests, by the answer's status (error: no answer)", ("status",)),
    "response_seconds": (
        "Seconds to the headers or to the last byte (phase), p50, p95 and max (quantile 1), by property",
        ("property", "phase", "quantile"),
    ),
    "last_run_timestamp_seconds": ("When the last run finished, in Unix time", ()),
    "run_duration_seconds": ("How long the last run took, in seconds", ()),
}
_QUANTILES = {"p50": "0.5", "p95": "0.95", "max": "1"}
_PHASES = ("headers", "total")
_EMBEDDED = "embedded-mock"
# What stands in a label for a value the scrubber changed: never a part of a secret.
_HIDDEN = "hidden"


@dataclass(frozen=True)
class RunLabels:
    """The two labels that tell one job's runs from another's: the target's host and the instance."""

    target: str
    instance: str

    @classmethod
    def of(cls, report: RunReport, *, private_ids: bool, scrubber: Scrubber) -> RunLabels:
        """From the report's target; ``private_ids``: the instance as a hash of its id, which never shows it."""
        target = report.target
        host = _EMBEDDED if target.embedded_mock or not target.base_url else urlsplit(target.base_url).hostname
        instance = target.instance_id or "none"
        if private_ids:
            instance = "sha256:" + hashlib.sha256(instance.encode()).hexdigest()[:16]
        return cls(_clean(host or "unknown", scrubber), _clean(instance, scrubber))

    def as_dict(self) -> dict[str, str]:
        return {"target": self.target, "instance": self.instance}


def _clean(value: str, scrubber: Scrubber) -> str:
    return value if scrubber.text(value) == value else _HIDDEN


def registry_of(report: RunReport, constant: dict[str, str] | None = None) -> CollectorRegistry:
    """The run's metrics in a registry of their own; ``constant``: labels every metric carries."""
    fixed = dict(constant or {})
    registry = CollectorRegistry(auto_describe=True)

    def gauge(name: str) -> Callable[..., Gauge]:
        """The metric's child of the given labels (with ``fixed``); a metric with no label at all is its own."""
        help_text, labels = METRICS[name]
        metric = Gauge(_PREFIX + name, help_text, [*fixed, *labels], registry=registry)
        return lambda **values: metric.labels(**fixed, **values) if [*fixed, *labels] else metric

    verdict = gauge("verdict")
    for name in VERDICTS:
        verdict(verdict=name).set(1 if name == report.verdict else 0)
    gauge("degraded")().set(1 if report.degraded else 0)
    findings = gauge("findings")
    # Every severity and category, at 0 when none: an alert never reads a missing series as good news.
    counts = dict.fromkeys(((severity, category) for severity in SEVERITIES for category in CATEGORIES), 0)
    for finding in report.findings:
        counts[(finding.severity.value, finding.category)] += 1
    for (severity, category), count in counts.items():
        findings(severity=severity, category=category).set(count)
    requests = gauge("requests")
    for status, count in sorted(report.requests.by_status.items()):
        requests(status=status).set(count)
    seconds = gauge("response_seconds")
    for property_name, entry in sorted(report.latency.items()):
        for phase in _PHASES:
            for key, quantile in _QUANTILES.items():
                value = entry.get(phase, {}).get(key)
                if isinstance(value, (int, float)):
                    seconds(property=property_name, phase=phase, quantile=quantile).set(value)
    started, finished = _time(report.started), _time(report.finished)
    if finished is not None:
        gauge("last_run_timestamp_seconds")().set(finished)
    if started is not None and finished is not None:
        gauge("run_duration_seconds")().set(max(0.0, finished - started))
    return registry


def _time(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def write_textfile(report: RunReport, path: Path, labels: RunLabels) -> Path:
    """The text format, for the node exporter's textfile collector: written whole or not at all.

    A temporary file in the same directory, then ``os.replace``: the collector, which reads the
    directory at any moment, sees the previous file or this one, never half of one.
    """
    text = generate_latest(registry_of(report, labels.as_dict()))
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        # mkstemp makes it private; the node exporter runs as another user.
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def push(report: RunReport, gateway: str, labels: RunLabels, *, timeout: float = 10.0) -> None:
    """Replace this target's and instance's group on the Pushgateway with the run's metrics (HTTP PUT)."""
    push_to_gateway(gateway, job=JOB, registry=registry_of(report), grouping_key=labels.as_dict(), timeout=timeout)
