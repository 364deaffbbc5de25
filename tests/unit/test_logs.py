"""What reaches Application Insights from a log call, and that the documented queries find the fields in it.

The Python worker forwards a record as its formatted text (a default `logging.Formatter`), its level, logger name
and invocation id; nothing in `extra=` survives. These tests format real records that way and run the regular
expressions of docs/operations.md's KQL `extract()` calls over them (RE2 and Python `re` agree on these).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from shared.logs import FIELD_PATTERN, log_with, subject_fields, with_fields

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = (ROOT / "docs" / "operations.md").read_text()
POD = {"metadata": {"namespace": "default", "name": "iis-winsvrcore", "uid": "6f1c0c4e-8a0e-4f7b-9a53-4b4d1c0f6d1a"}}


def app_insights_message(record: logging.LogRecord) -> str:
    """The `message` column of the traces row: the worker's handler formats with a default Formatter."""
    return logging.Formatter().format(record)


def kql_extract(pattern: str, message: str) -> str:
    match = re.search(pattern, message)
    return match.group(1) if match else ""


def documented_patterns() -> dict[str, str]:
    """Field name -> regex, from every `extract(@"...", 1, message)` in docs/operations.md."""
    patterns = re.findall(r'extract\(@"([^"]+)", 1, message\)', OPERATIONS)
    return {p.split("=")[0].lstrip("^"): p for p in patterns if "=" in p}


def records_of(logger_name: str, action) -> list[logging.LogRecord]:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger(logger_name)
    handler, old_level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        action(logger)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    return records


def test_documented_queries_find_pod_uid_and_group_in_worker_lines():
    fields = subject_fields(POD, group="default-iis-winsvrcore-c64f69f835")
    (record,) = records_of(
        "aci_connector.worker",
        lambda log: log_with(log, logging.INFO, "container group accepted by ARM", fields=fields),
    )
    message = app_insights_message(record)
    patterns = documented_patterns()
    assert {"pod", "uid", "group"} <= set(patterns)
    assert kql_extract(patterns["pod"], message) == "default/iis-winsvrcore"
    assert kql_extract(patterns["uid"], message) == POD["metadata"]["uid"]
    assert kql_extract(patterns["group"], message) == "default-iis-winsvrcore-c64f69f835"
    assert kql_extract(FIELD_PATTERN.format(key="pod"), message) == "default/iis-winsvrcore"


def test_failure_reason_query_keeps_the_whole_reason():
    error = "spec.containers[0].ports[1]: ACI exposes 5 ports per IP [limit]"
    (record,) = records_of(
        "aci_connector.worker",
        lambda log: log_with(log, logging.WARNING, "pod failed: %s", error, fields=subject_fields(POD)),
    )
    message = app_insights_message(record)
    reason = r"^pod failed: (.*) \["
    assert f'extract(@"{reason}", 1, message)' in OPERATIONS
    assert kql_extract(reason, message) == error
    assert kql_extract(documented_patterns()["pod"], message) == "default/iis-winsvrcore"


def test_cycle_summary_fields_are_single_tokens():
    summary = {"pods": 3, "arm_reads": 12, "node_writes": ["aci-connector-linux", "aci-connector-windows"], "x": ""}
    message = with_fields("reconcile cycle", summary)
    assert kql_extract(documented_patterns()["arm_reads"], message) == "12"
    assert kql_extract(r"node_writes=([^ \]]+)", message) == "aci-connector-linux,aci-connector-windows"
    assert "x=" not in message


def test_no_code_relies_on_extra_custom_dimensions():
    """`extra=` never reaches Application Insights from a Python function: nothing may depend on it."""
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("shared", "functions")
        for path in (ROOT / folder).rglob("*.py")
        if re.search(r"extra=\{\s*[\"']custom_dimensions", path.read_text())
    ]
    assert offenders == []
