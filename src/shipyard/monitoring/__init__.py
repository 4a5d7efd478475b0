"""Monitoring: drift against the reference profile, realized performance from late labels,
operational health from the inference log, reports, and a policy whose alerts act."""

from shipyard.monitoring._actions import ActionContext
from shipyard.monitoring._aggregates import InputProfiler, input_profile
from shipyard.monitoring._drift import DriftSettings, column_drift, dataset_drift
from shipyard.monitoring._labels import LabelStore, join_labels
from shipyard.monitoring._log import read_log
from shipyard.monitoring._monitor import Monitor
from shipyard.monitoring._performance import realized_metrics
from shipyard.monitoring._policy import MonitorPolicy, load_policy, parse_policy
from shipyard.monitoring._profile import WindowProfile, merge_profiles
from shipyard.monitoring._reference import Reference, load_reference
from shipyard.monitoring._report import build_report, write_report
from shipyard.monitoring._runner import policy_monitor, run_once
from shipyard.monitoring._windows import WindowSpec

__all__ = [
    "ActionContext",
    "DriftSettings",
    "InputProfiler",
    "LabelStore",
    "Monitor",
    "MonitorPolicy",
    "Reference",
    "WindowProfile",
    "WindowSpec",
    "build_report",
    "column_drift",
    "dataset_drift",
    "input_profile",
    "join_labels",
    "load_policy",
    "load_reference",
    "merge_profiles",
    "parse_policy",
    "policy_monitor",
    "read_log",
    "realized_metrics",
    "run_once",
    "write_report",
]
