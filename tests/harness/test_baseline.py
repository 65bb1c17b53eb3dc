"""Accepted drift: a baseline keeps CI green on known deviations and red on new ones."""

from __future__ import annotations

import errno
import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from dcs_contract.cli.app import main
from dcs_contract.contract.findings import Finding, RequestInfo
from dcs_contract.contract.spec import Spec
from dcs_contract.engine.properties import PROPERTIES
from dcs_contract.engine.run import PropertyRun
from dcs_contract.errors import ConfigError
from dcs_contract.mock.data import generate_records
from dcs_contract.redaction import Scrubber
from dcs_contract.results.baseline import Baseline
from tests.harness.clocks import FakeClock
from tests.harness.conftest import Serve, live_env
from tests.harness.leaks import assert_no_leak

QUICK = ["--max-examples", "5", "--seed", "3"]
NONE = Scrubber()
AK = "HPUAK5EXAMPLE7SECRET"
SK = "sk-" + "9" * 37


def _finding(location: str, message: str = "m", url: str = "http://x/1") -> Finding:
    return Finding(
        check="response_schema_conformance",
        category="schema",
        title="t",
        message=message,
        location=location,
        expected="e",
        actual="a",
        requests=(RequestInfo(method="GET", url=url),),
    )


def test_a_finding_is_matched_by_fingerprint_not_by_message_or_request(tmp_path: Path) -> None:
    baseline = Baseline(tmp_path / "b.json").updated([_finding("/a")], scrubber=NONE)
    judged = baseline.judge([_finding("/a", message="other words", url="http://y/2"), _finding("/b")], scrubber=NONE)
    assert [f.location for f in judged.accepted] == ["/a"]
    assert [f.location for f in judged.new] == ["/b"]
    assert judged.resolved == []
    assert [e.location for e in baseline.judge([], scrubber=NONE).resolved] == ["/a"]


def test_an_update_keeps_the_reason_a_person_wrote(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    Baseline(path).updated([_finding("/a")], scrubber=NONE).write(scrubber=NONE)
    document = json.loads(path.read_text())
    document["accepted"][0]["reason"] = "ticket OPS-12: staging runs an old build"
    path.write_text(json.dumps(document))
    Baseline.load(path).updated([_finding("/a"), _finding("/b")], scrubber=NONE).write(scrubber=NONE)
    reasons = {e["location"]: e["reason"] for e in json.loads(path.read_text())["accepted"]}
    assert reasons == {"/a": "ticket OPS-12: staging runs an old build", "/b": ""}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not JSON"),
        ('{"accepted": {}}', 'must be an object with an "accepted" list'),
        ('{"version": 2, "accepted": []}', "version=2, but this harness reads version 1"),
        ('{"version": 1, "accepted": [{"check": "c"}]}', "accepted[0] lacks fingerprint, category, location"),
        (
            '{"version": 1, "accepted": [{"fingerprint": "0", "check": "c", "category": "schema", "location": "/"}]}',
            "has fingerprint='0', but its check, category and location give",
        ),
    ],
)
def test_a_broken_baseline_is_a_configuration_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match="--baseline=") as raised:
        Baseline.load(path)
    assert message in str(raised.value)


_ENTRY = {"fingerprint": "f", "check": "c", "category": "schema", "location": "/"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"version": 1, "accepted": [\xff\xfe]}', "is not UTF-8 text: 'utf-8' codec can't decode byte 0xff"),
        (b"[" * 100_000 + b"]" * 100_000, "nests too deeply to be a baseline file"),
        (b'{"version": 1, "accepted": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nests too deeply"),
        (b'{"version": true, "accepted": []}', "has version=True, but this harness reads version 1"),
        (b'{"version": 1, "accepted": [[1, 2]]}', "accepted[0]=[1, 2], but each entry must be an object"),
        (json.dumps({"version": 1, "accepted": [_ENTRY | {"reason": 7}]}).encode(), "accepted[0].reason=7, but it"),
        (json.dumps({"version": 1, "accepted": [_ENTRY | {"detail": {}}]}).encode(), "accepted[0].detail={}, but"),
        (json.dumps({"version": 1, "accepted": [_ENTRY | {"location": 5}]}).encode(), "accepted[0] lacks location"),
        (json.dumps({"version": 1, "accepted": ["x" * 500]}).encode(), "accepted[0]='xxxxxxxx"),
        (
            json.dumps({"version": 1, "accepted": [_ENTRY | {"location": "/\ud800"}]}).encode(),
            "accepted[0].location holds a lone surrogate",
        ),
    ],
    ids=[
        "invalid-utf8",
        "deep",
        "deep-accepted",
        "version-bool",
        "entry-list",
        "reason",
        "detail",
        "location",
        "long",
        "surrogate",
    ],
)
def test_a_broken_baseline_file_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    path = tmp_path / "b.json"
    path.write_bytes(content)
    assert main(["run", "--report-dir", str(tmp_path / "r"), "--baseline", str(path)], env={}) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"dcs-contract: --baseline={str(path)!r}")
    assert message in captured.err
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert len(captured.err) < 400, "a long value is cut in the message"
    assert not (tmp_path / "r").exists(), "refused before the run"


def test_the_baseline_file_is_written_through_the_scrubber_and_still_matches(tmp_path: Path) -> None:
    """A location built from a response's own keys can carry the AK; the file is one that teams commit."""
    path = tmp_path / "b.json"
    scrubber = Scrubber([AK, SK])
    leaky = _finding(f"/backup_record_response/*/{AK}")
    Baseline(path).updated([leaky], scrubber=scrubber).write(scrubber=scrubber)
    text = path.read_text()
    assert_no_leak({path.name: text}, [AK])
    assert "/backup_record_response/*/***" in text
    # Read back, it accepts the same finding: matched by the fingerprint of its scrubbed fields.
    judged = Baseline.load(path).judge([leaky], scrubber=scrubber)
    assert (judged.accepted, judged.new, judged.resolved) == ([leaky], [], [])


@contextmanager
def _hostile(spec: Spec, *, status: int, extra: dict[str, object]) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """A small server on loopback: the gateway's 401 without credentials; else 200 with a record that has
    ``extra``, or ``status`` with ``extra["error_code"]`` as the error code."""
    record = generate_records(spec, instance_id="i-1", count=1, seed=1)[0] | extra
    body = json.dumps({"total_num": 1, "backup_record_response": [record]}).encode()
    refusal = json.dumps({"error_code": "APIGW.0301", "error_msg": "Incorrect IAM authentication information"}).encode()
    seen: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append((self.command, self.path))
            if "Authorization" not in self.headers:
                self._answer(401, refusal)
            elif status == 200:
                self._answer(200, body)
            else:
                self._answer(status, json.dumps({"error_code": extra["error_code"], "error_msg": "no"}).encode())

        def _answer(self, code: int, content: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _env(base_url: str) -> dict[str, str]:
    return {
        "DCS_BASE_URL": base_url,
        "DCS_PROJECT_ID": "p-1",
        "DCS_INSTANCE_ID": "i-1",
        "CLOUD_SDK_AK": AK,
        "CLOUD_SDK_SK": SK,
    }


def _outputs(captured: pytest.CaptureResult[str], *files: Path) -> str:
    return captured.out + captured.err + "".join(path.read_text() for path in files if path.is_file())


def test_the_not_updated_line_is_scrubbed(spec: Spec, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 401 whose error code is the AK: the run is cut short, and its reason is printed, scrubbed."""
    baseline, reports = tmp_path / "b.json", tmp_path / "r"
    with _hostile(spec, status=401, extra={"error_code": AK}) as (url, seen):
        argv = ["run", "--report-dir", str(reports), "--baseline", str(baseline), "--baseline-update"]
        assert main([*argv, "--rate-limit", "100"], env=_env(url)) == 3
    # The unauthenticated probe, then one signed request, never a second.
    assert [method for method, _ in seen] == ["GET", "GET"]
    assert all(path.startswith("/v2/p-1/instances/i-1/backups") for _, path in seen)
    captured = capsys.readouterr()
    assert f"{baseline} not updated: the run was cut short" in captured.err
    assert "HTTP 401 ***" in captured.err
    assert not baseline.exists()
    assert_no_leak({"outputs": _outputs(captured, *reports.iterdir())}, [AK, SK])


def test_a_baseline_update_from_a_leaky_target_writes_no_secret(
    spec: Spec, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline, reports = tmp_path / "b.json", tmp_path / "r"
    with _hostile(spec, status=200, extra={AK: 1}) as (url, seen):
        argv = ["run", "--report-dir", str(reports), "--baseline", str(baseline)]
        argv += ["--max-examples", "3", "--seed", "1", "--rate-limit", "1000"]
        assert main([*argv, "--baseline-update"], env=_env(url)) == 0
        assert {method for method, _ in seen} == {"GET"}
        locations = [entry["location"] for entry in json.loads(baseline.read_text())["accepted"]]
        assert "/backup_record_response/*/***" in locations
        # The next run against the same target: the scrubbed entry accepts the finding again.
        capsys.readouterr()
        assert main(argv, env=_env(url)) in (0, 1)
    report = json.loads((reports / "report.json").read_text())
    assert "/backup_record_response/*/***" in [f["location"] for f in report["baseline"]["accepted"]]
    assert_no_leak({"outputs": _outputs(capsys.readouterr(), baseline, *reports.iterdir())}, [AK, SK])


@pytest.mark.slow
def test_known_drift_passes_new_drift_fails_and_a_fix_is_reported_resolved(tmp_path: Path) -> None:
    baseline = str(tmp_path / "accepted.json")

    def run(*flags: str) -> tuple[int, dict]:
        reports = tmp_path / "reports"
        code = main(["run", "--report-dir", str(reports), *QUICK, *flags], env={})
        return code, json.loads((reports / "report.json").read_text())

    # Without a baseline the known deviation fails the run.
    assert run("--mock-drift", "extra-field")[0] == 1
    code, report = run("--mock-drift", "extra-field", "--baseline", baseline, "--baseline-update")
    assert code == 0 and report["findings"] == []
    [entry] = json.loads(Path(baseline).read_text())["accepted"]
    assert entry["location"] == "/backup_record_response/*/backup_region"

    code, report = run("--mock-drift", "extra-field", "--baseline", baseline)
    assert (code, report["verdict"], len(report["baseline"]["accepted"])) == (0, "conforms", 1)

    code, report = run("--mock-drift", "extra-field", "--mock-drift", "format-upper-case", "--baseline", baseline)
    assert code == 1
    # One finding per unknown enum value (AOF, RDB): each is new drift.
    assert {f["location"] for f in report["findings"]} == {"/backup_record_response/*/backup_format"}

    code, report = run("--baseline", baseline)
    assert code == 0
    assert [e["fingerprint"] for e in report["baseline"]["resolved"]] == [entry["fingerprint"]]
    assert "Resolved: in the baseline, no longer seen (1)" in (tmp_path / "reports" / "report.md").read_text()


def test_baseline_flags_are_checked_before_anything_is_sent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--baseline", str(tmp_path / "missing.json")], env={}) == 2
    assert "does not exist (--baseline-update creates it)" in capsys.readouterr().err
    assert main(["run", "--baseline-update"], env={}) == 2
    assert "--baseline-update needs --baseline FILE" in capsys.readouterr().err
    assert main(["run", "--mock-drift", "no-such-drift"], env={}) == 2
    assert "is not a drift switch; known:" in capsys.readouterr().err


@pytest.mark.slow
def test_a_run_cut_short_does_not_rewrite_the_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_clock: FakeClock, prompt_faults: None
) -> None:
    """Its findings are incomplete: rewriting would drop accepted entries it never had the budget to see.

    The retries' waits (Retry-After, backoff) are asked of a fake clock, and the mock's late
    answers are prompt: the budget, not time, cuts the run.
    """
    baseline = tmp_path / "accepted.json"
    reports = str(tmp_path / "reports")
    flags = ["run", "--report-dir", reports, *QUICK, "--mock-drift", "extra-field", "--baseline", str(baseline)]
    assert main([*flags, "--baseline-update"], env={}) == 0
    before = baseline.read_text()
    # A busy gateway's retries spend the smallest budget before the probe plan is sent whole.
    assert main([*flags, "--baseline-update", "--mock-faults", "--max-requests", "26"], env={}) == 3
    assert "not updated: the run was cut short" in capsys.readouterr().err
    assert baseline.read_text() == before
    assert 1.0 in fake_clock.sleeps, "a 429's Retry-After: 1 was waited, on the run's clock"


def test_a_run_a_bug_ended_does_not_rewrite_the_baseline(
    serve: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its findings stop at the bug: rewriting would drop the accepted entries it never reached."""

    def broken(run: PropertyRun) -> None:
        raise RuntimeError("an injected bug in the harness")

    reports = tmp_path / "reports"
    with serve(drifts=("extra-field",)) as (server, state):
        # The file's name holds the AK: the line that names it is scrubbed like every output.
        baseline = tmp_path / f"accepted-{state.credentials.access_key}.json"
        argv = ["run", "--report-dir", str(reports), *QUICK, "--rate-limit", "1000", "--baseline", str(baseline)]
        assert main([*argv, "--baseline-update"], env=live_env(server, state)) == 0
        before, sent = baseline.read_bytes(), len(state.requests())
        assert json.loads(before)["accepted"], "the known drift was accepted"
        capsys.readouterr()
        monkeypatch.setattr(PROPERTIES["paging-total"], "probe_part", broken)
        assert main([*argv, "--baseline-update"], env=live_env(server, state)) == 4
        seen = state.requests()[sent:]
    assert baseline.read_bytes() == before
    captured = capsys.readouterr()
    assert f"dcs-contract: {tmp_path}/accepted-***.json not updated: the harness failed (exit 4)\n" in captured.err
    report = json.loads((reports / "report.json").read_text())
    assert report["verdict"] == "error" and "an injected bug" in report["crash"]
    assert {entry.method for entry in seen} == {"GET"}
    assert len(seen) == report["requests"]["total"] > 0
    outputs = {"stdout": captured.out, "stderr": captured.err, "baseline": before.decode()}
    outputs |= {path.name: path.read_text() for path in reports.iterdir()}
    assert_no_leak(outputs, state.credentials.secrets())


@pytest.mark.parametrize("fails", ["write", "replace"])
def test_a_baseline_write_that_fails_leaves_the_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fails: str
) -> None:
    """A full disk half-way through does not leave the committed file empty or cut, nor a stray file."""
    path = tmp_path / "b.json"
    Baseline(path).updated([_finding("/a")], scrubber=NONE).write(scrubber=NONE)
    before = path.read_bytes()

    class FullDisk(io.FileIO):
        def write(self, data: object) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    def refuse(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    if fails == "write":
        monkeypatch.setattr("dcs_contract.results.baseline.os.fdopen", lambda handle, mode: FullDisk(handle, "wb"))
    else:
        monkeypatch.setattr("dcs_contract.results.baseline.os.replace", refuse)
    with pytest.raises(OSError):
        Baseline.load(path).updated([_finding("/b")], scrubber=NONE).write(scrubber=NONE)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["b.json"]


def test_mock_flags_against_a_live_target_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    env = {
        "DCS_BASE_URL": "https://dcs.test",
        "DCS_PROJECT_ID": "p",
        "DCS_INSTANCE_ID": "i",
        "DCS_AUTH_TOKEN": "t" * 20,
    }
    assert main(["run", "--mock-data-seed", "0"], env=env) == 2
    assert "--mock-* flags apply to the embedded mock only" in capsys.readouterr().err
