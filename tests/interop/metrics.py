"""Scrapes the demo's /metrics and checks it with Python's prometheus_client, a parser nobody here
wrote: the OpenMetrics parser must accept the whole text, and the series
docs/reference/config.md#metrics names must be there after the grpcurl commands run (among them a
SyncNow and a GetStatus).

Usage: metrics.py URL. Exits 0 when every check holds, 1 with the reasons otherwise.
"""

import sys
import urllib.request

from prometheus_client.openmetrics.parser import text_string_to_metric_families

CHECKS = {
    "user-identified",
    "offboarded-access-removed",
    "access-control-configured",
    "user-access-valid",
    "integration-healthy",
    "offboarded-leftovers-removed",
    "access-review-actions-done",
    "access-review-current",
}


def main(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        content_type = response.headers["Content-Type"]
        text = response.read().decode("utf-8")
    families = {family.name: family for family in text_string_to_metric_families(text)}
    failures = []

    def check(condition, message):
        if not condition:
            failures.append(message)

    check(content_type.startswith("application/openmetrics-text"), f"content type {content_type}")
    samples = lambda name: families[name].samples if name in families else []
    check(
        any(s.labels.get("outcome") == "completed" and s.value >= 1 for s in samples("tailledger_syncs")
            if s.name == "tailledger_syncs_total"),
        "no completed sync counted after SyncNow",
    )
    check(
        any(s.name == "tailledger_sync_duration_seconds_count" and s.value >= 1
            for s in samples("tailledger_sync_duration_seconds")),
        "no sync duration observed",
    )
    check(
        any(s.labels.get("type") == "SyncCompleted" for s in samples("tailledger_events_appended")),
        "no SyncCompleted among the events appended",
    )
    heads = samples("tailledger_ledger_head_seq")
    check(len(heads) == 1 and heads[0].value > 0, f"head seq {heads}")
    states = {}
    for sample in samples("tailledger_check_state"):
        states.setdefault(sample.labels["check"], []).append(sample)
    check(set(states) == CHECKS, f"checks with a state: {sorted(states)}")
    for check_id, series in states.items():
        check(sum(s.value for s in series) == 1, f"{check_id} is not in exactly one state: {series}")
    check(
        {s.labels["check"] for s in samples("tailledger_check_findings")} == CHECKS,
        "findings per check missing",
    )
    check(
        any(s.labels.get("method") == "/tailledger.v1.LedgerService/GetStatus"
            and s.labels.get("code") == "OK" for s in samples("tailledger_grpc_requests")),
        "no GetStatus OK counted",
    )
    check(samples("tailledger_credential_expiry_seconds"), "no credential expiry")
    if failures:
        for failure in failures:
            print(f"metrics FAILED: {failure}", file=sys.stderr)
        return 1
    print(f"metrics ok: {len(families)} families parsed by prometheus_client's OpenMetrics parser")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
