"""The kinds of values a run counts as it reads the target's answers (``report.observed``).

Each kind maps a value, as bounded text, to how often it was seen. Besides these three, each
enum field of a record (``status``, ``backup_type``, ...) is a kind named after the field.
The run writes them (``engine/run.py``); the diff, the coverage and the docs read them.
"""

from __future__ import annotations

__all__ = ["ERROR_CODES", "HTTP_STATUS", "RECORD_FIELDS"]

# The status code of every answer.
HTTP_STATUS = "http_status"
# The error_code of every error body.
ERROR_CODES = "error_body.error_code"
# Each record field that arrived with a value: which optional fields the target ever sends.
RECORD_FIELDS = "record_field"
