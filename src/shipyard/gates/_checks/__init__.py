"""One function per check type: ``run_<type>(check, context) -> CheckResult``."""

from shipyard.gates._checks._calibration import calibration_error, run_calibration
from shipyard.gates._checks._fairness import run_fairness
from shipyard.gates._checks._latency import run_latency
from shipyard.gates._checks._metric import run_metric
from shipyard.gates._checks._robustness import run_robustness
from shipyard.gates._checks._schema import input_changes, run_schema
from shipyard.gates._checks._size import human_bytes, run_size
from shipyard.gates._checks._stability import run_stability
from shipyard.gates._checks._vulnerabilities import run_vulnerabilities

__all__ = [
    "calibration_error",
    "human_bytes",
    "input_changes",
    "run_calibration",
    "run_fairness",
    "run_latency",
    "run_metric",
    "run_robustness",
    "run_schema",
    "run_size",
    "run_stability",
    "run_vulnerabilities",
]
