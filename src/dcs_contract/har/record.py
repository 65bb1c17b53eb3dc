"""The run's traffic as a HAR 1.2 file, for offline study and for the documentation.

Headers that carry a credential were already redacted by the transport when the exchange
was kept; every value is scrubbed of every secret before it is written, and a body is cut
to :data:`MAX_RECORDED_BODY` only after it was scrubbed.

    write_har(report.traffic, Path("traffic.har"), scrubber=Scrubber(credentials.secrets()))
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import httpx

from dcs_contract.redaction import Scrubber
from dcs_contract.transport.guard import MAX_RECORDED_BODY, Exchange

__all__ = ["har_document", "write_har"]


def _version() -> str:
    try:
        return version("dcs-contract")
    except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
        return "0"


def _pairs(items: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in items]


def _timings(exchange: Exchange, total: float) -> dict[str, float]:
    """Waiting for the headers, then receiving the body, as the guard timed them (all waiting when not told apart)."""
    if exchange.headers_elapsed is None:
        return {"send": 0, "wait": total, "receive": 0}
    wait = min(total, round(exchange.headers_elapsed * 1000, 3))
    return {"send": 0, "wait": wait, "receive": round(total - wait, 3)}


def _entry(exchange: Exchange, scrubber: Scrubber) -> dict[str, Any]:
    url = httpx.URL(exchange.url)
    milliseconds = round(exchange.elapsed * 1000, 3)
    headers = dict((name.lower(), value) for name, value in exchange.response_headers)
    body = scrubber.cut(exchange.response_body or "", MAX_RECORDED_BODY)
    response: dict[str, Any] = {
        "status": exchange.status if exchange.status is not None else 0,
        "statusText": "" if exchange.status is None else httpx.codes.get_reason_phrase(exchange.status),
        "httpVersion": exchange.http_version,
        "headers": _pairs(exchange.response_headers),
        "cookies": [],
        "content": {"size": len(body.encode()), "mimeType": headers.get("content-type", ""), "text": body},
        "redirectURL": "",
        "headersSize": -1,
        "bodySize": len(body.encode()),
    }
    entry: dict[str, Any] = {
        "startedDateTime": exchange.started_at.isoformat(timespec="milliseconds"),
        "time": milliseconds,
        "request": {
            "method": exchange.method,
            "url": exchange.url,
            "httpVersion": exchange.http_version,
            "headers": _pairs(exchange.request_headers),
            "queryString": _pairs(url.params.multi_items()),
            "cookies": [],
            "headersSize": -1,
            "bodySize": 0,
        },
        "response": response,
        "cache": {},
        "timings": _timings(exchange, milliseconds),
    }
    if exchange.error is not None:
        # HAR has no field for a transport error; "_" marks a custom field, as the format allows.
        entry["_error"] = exchange.error
    return entry


def har_document(exchanges: Sequence[Exchange], *, scrubber: Scrubber) -> dict[str, Any]:
    """The HAR 1.2 document of ``exchanges``, every string in it scrubbed."""
    document = {
        "log": {
            "version": "1.2",
            "creator": {"name": "dcs-contract", "version": _version()},
            "entries": [_entry(exchange, scrubber) for exchange in exchanges],
        }
    }
    clean: dict[str, Any] = scrubber.data(document)
    return clean


def write_har(exchanges: Sequence[Exchange], path: Path, *, scrubber: Scrubber) -> Path:
    """The HAR document is scrubbed value by value, then once more as the text written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(har_document(exchanges, scrubber=scrubber), indent=1, ensure_ascii=False)
    path.write_text(scrubber.json_text(text, indent=1) + "\n", encoding="utf-8")
    return path
