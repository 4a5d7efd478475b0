"""Promotion gates: a policy of checks that yields a recorded promote-or-reject decision.

>>> report = gates.run("models:/churn/4", "gates.yaml", "eval.parquet")  # doctest: +SKIP
>>> report.passed                                                        # doctest: +SKIP

``evaluate`` is the pure core (models, data and policy in, verdicts out); ``run`` adds the
registry (baseline alias, audit event, promotion, report artifacts); ``compare`` ranks several
candidates on every check.
"""

from shipyard.gates._compare import Scorecard, compare, headline
from shipyard.gates._evaluate import evaluate
from shipyard.gates._html import render_report
from shipyard.gates._osv import cvss3_score, find_vulnerabilities, load_advisories, parse_pins
from shipyard.gates._policy import (
    CHECK_TYPES,
    InvalidPolicy,
    Policy,
    load_policy,
    parse_policy,
)
from shipyard.gates._registry import GATE_EVENT, ArtifactSink, Registry, parse_registry_uri
from shipyard.gates._result import CheckResult, GateReport, Plot
from shipyard.gates._runner import REPORT_HTML, REPORT_JSON, run, write_report
from shipyard.gates._subject import Subject, load_subject

__all__ = [
    "CHECK_TYPES",
    "GATE_EVENT",
    "REPORT_HTML",
    "REPORT_JSON",
    "ArtifactSink",
    "CheckResult",
    "GateReport",
    "InvalidPolicy",
    "Plot",
    "Policy",
    "Registry",
    "Scorecard",
    "Subject",
    "compare",
    "cvss3_score",
    "evaluate",
    "find_vulnerabilities",
    "headline",
    "load_advisories",
    "load_policy",
    "load_subject",
    "parse_pins",
    "parse_policy",
    "parse_registry_uri",
    "render_report",
    "run",
    "write_report",
]
