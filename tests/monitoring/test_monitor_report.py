"""The report: strict JSON, and an HTML page that escapes what came from the data."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
from _monitor_data import START, log_frame, write_parts

from shipyard.models import build_profile
from shipyard.monitoring import Monitor, Reference, build_report, write_report

HOUR = dt.timedelta(hours=1)


def test_report_json_is_strict_and_html_escapes(log_root: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"<script>x": rng.normal(size=500), "kind": rng.choice(["a", "b"], 500)})
    reference = Reference.from_profile(build_profile(data))
    frames = [log_frame(data.sample(300, random_state=h), START + h * HOUR) for h in range(3)]
    frames[2]["in.kind"] = "<b>new</b>"
    write_parts(log_root, pd.concat(frames, ignore_index=True))
    monitor = Monitor(log_root, tmp_path / "mon", reference, clock=lambda: START + 5 * HOUR)

    report = build_report(monitor, "cancer", START, START + 3 * HOUR, "hour")
    json_path, html_path = write_report(report, tmp_path / "out" / "r.html")

    parsed = json.loads(json_path.read_text())  # allow_nan=False when writing: strict JSON
    (section,) = parsed["versions"]
    assert [w["drift"]["unseen_signals"] for w in section["windows"]] == [[], [], ["kind"]]
    assert section["overall"]["rows"] == 900
    page = html_path.read_text()
    assert "<script" not in page and "<b>new" not in page
    assert "&lt;script&gt;x" in page
    assert page.count("<svg") > 5
