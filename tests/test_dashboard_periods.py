"""The dashboard's preview of a new goal's periods (examples/dashboard/src/periods.ts) agrees with the
server's period arithmetic (goalgraph.periods.periods_for) on random goals: intervals, dates, week starts,
fiscal years. The goal form offers one target field per previewed period, and the server accepts
`periodTargets` only for its own period starts, so the two must not drift apart.

Needs node and the dashboard's node_modules (for tsc); skipped without them, except under CI=true.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest

from goalgraph.periods import Calendar, Interval, periods_for

DASHBOARD = Path(__file__).resolve().parents[1] / "examples" / "dashboard"
TSC = DASHBOARD / "node_modules" / ".bin" / "tsc"
WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]

RUNNER = """
import { previewPeriods } from "./periods.mjs";
import { readFileSync } from "node:fs";
const cases = JSON.parse(readFileSync(process.argv[2], "utf8"));
const out = cases.map((c) => previewPeriods(c.interval, c.start, c.end, c.fiscal, c.weekStart, c.fiscalYearStartMonth)
  .map((p) => [p.startDate, p.endDate, p.label]));
console.log(JSON.stringify(out));
"""


def _cases(n: int) -> list[dict]:
    rng = random.Random(20261201)
    cases = []
    for _ in range(n):
        interval = rng.choice(["WEEKLY", "MONTHLY", "QUARTERLY", "YEARLY"])
        week_start, fy_month, fiscal = rng.randrange(7), rng.randint(1, 12), rng.random() < 0.5
        start = date(2023, 1, 1) + timedelta(rng.randrange(1500))
        end = start + timedelta(rng.randrange(250 if interval == "WEEKLY" else 1100))
        periods = periods_for(Calendar("Europe/Oslo", week_start, fy_month), Interval(interval), start, end, fiscal=fiscal)
        cases.append({
            "interval": interval, "start": start.isoformat(), "end": end.isoformat(), "fiscal": fiscal,
            "weekStart": WEEKDAYS[week_start], "fiscalYearStartMonth": fy_month,
            "want": [[p.start_date.isoformat(), p.end_date.isoformat(), p.label] for p in periods],
        })
    return cases


def test_preview_periods_match_the_server(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not TSC.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("node and examples/dashboard/node_modules are needed (cd examples/dashboard && npm ci)")
        pytest.skip("node or the dashboard's node_modules missing")
    source = (DASHBOARD / "src" / "periods.ts").read_text()
    # Compile the module alone: its only import is the generated GraphQL types (string unions).
    source = re.sub(r'^import type \{ Interval, Weekday \} from "\./gql/graphql";$',
                    "type Interval = string;\ntype Weekday = string;", source, flags=re.M)
    (tmp_path / "periods.ts").write_text(source)
    done = subprocess.run([str(TSC), "--ignoreConfig", "--target", "es2022", "--module", "es2022", "--strict",
                           "--outDir", str(tmp_path / "out"), str(tmp_path / "periods.ts")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    (tmp_path / "out" / "periods.js").rename(tmp_path / "out" / "periods.mjs")
    (tmp_path / "out" / "run.mjs").write_text(RUNNER)
    cases = _cases(500)
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    run = subprocess.run([node, str(tmp_path / "out" / "run.mjs"), str(tmp_path / "cases.json")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    wrong = [(c, g) for c, g in zip(cases, got) if g != c["want"]]
    assert not wrong, f"{len(wrong)} of {len(cases)} differ; first: {wrong[0]}"
