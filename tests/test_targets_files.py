"""Targets as files: the plan as CSV out and back in, all or nothing, problems by line and column."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner

from goalgraph.cli import main as cli
from test_goals_api import seeded  # noqa: F401 - the fixture

KEY = {"year": 2026, "goalType": "DEALS_ADDED", "measure": "COUNT", "interval": "QUARTERLY"}
EXPORT = "query($key: PlanKeyInput!) { targetsPlanCsv(key: $key) }"
IMPORT = """mutation($key: PlanKeyInput!, $csv: String!, $dry: Boolean!) { importTargetsPlan(key: $key, csv: $csv, dryRun: $dry) {
  __typename ... on TargetsImported { cells goalsChanged dryRun }
  ... on TargetsFileRejectedError { errors { line column message } } ... on ForbiddenError { message }
  ... on ValidationError { fieldErrors { path } } } }"""
PLAN = "query($key: PlanKeyInput!) { targetsPlan(key: $key) { rows { assignee { kind user { id } team { id } } targets } } }"


async def _targets(gql, **kw) -> dict[str, list]:  # type: ignore[no-untyped-def]
    rows = (await gql(PLAN, {"key": KEY}, **kw))["targetsPlan"]["rows"]
    return {(r["assignee"]["user"] or r["assignee"]["team"] or {"id": "company"})["id"]: r["targets"] for r in rows}


async def test_export_edit_import_round_trip_and_dry_run(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    text = (await gql(EXPORT, {"key": KEY}))["targetsPlanCsv"]
    lines = text.splitlines()
    assert lines[0] == "kind,id,name,2026-01-01,2026-04-01,2026-07-01,2026-10-01"
    assert "COMPANY,,Company,,,," in lines and "USER,alice,alice,,,," in lines and "TEAM,north,North,,,," in lines
    edited = text.replace("USER,alice,alice,,,,", "USER,alice,alice,10,12,\"1,000\",").replace(
        "COMPANY,,Company,,,,", "COMPANY,,Company,40,,,")
    checked = (await gql(IMPORT, {"key": KEY, "csv": edited, "dry": True}))["importTargetsPlan"]
    assert checked == {"__typename": "TargetsImported", "cells": 4, "goalsChanged": 2, "dryRun": True}
    assert (await _targets(gql))["alice"] == [None, None, None, None]  # nothing saved
    saved = (await gql(IMPORT, {"key": KEY, "csv": edited, "dry": False}))["importTargetsPlan"]
    assert saved == {"__typename": "TargetsImported", "cells": 4, "goalsChanged": 2, "dryRun": False}
    after = await _targets(gql)
    assert after["alice"] == ["10", "12", "1000", "0"] and after["company"] == ["40", "0", "0", "0"]
    assert after["bob"] == [None, None, None, None]
    again = (await gql(EXPORT, {"key": KEY}))["targetsPlanCsv"]
    assert "USER,alice,alice,10,12,1000,0" in again.splitlines()


async def test_a_bad_file_names_every_problem_and_saves_nothing(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    bad = ("kind,id,name,2026-01-01,2026-04-01\n"
           "USER,alice,,5,ten\n"
           "PERSON,bob,,1,1\n"
           "TEAM,,,1,1\n"
           "USER,alice,,1,1\n"
           "USER,bob,,-3,2\n")
    refused = (await gql(IMPORT, {"key": KEY, "csv": bad, "dry": False}))["importTargetsPlan"]
    assert refused["__typename"] == "TargetsFileRejectedError"
    assert [(e["line"], e["column"]) for e in refused["errors"]] == [
        (2, "2026-04-01"), (3, "kind"), (4, "id"), (5, "id"), (6, "2026-01-01")]
    assert "is not a number" in refused["errors"][0]["message"] and "also on line 2" in refused["errors"][3]["message"]
    assert (await _targets(gql))["alice"] == [None, None, None, None]
    header = (await gql(IMPORT, {"key": KEY, "csv": "kind,id,name,2026-02-01\n", "dry": False}))["importTargetsPlan"]
    assert header["errors"] == [{"line": 1, "column": "2026-02-01", "message": "does not start a period of this plan"}]
    unknown = (await gql(IMPORT, {"key": KEY, "csv": "kind,id,name,2026-01-01\nUSER,nobody,,3\nUSER,alice,,4\n",
                                  "dry": False}))["importTargetsPlan"]
    assert unknown["__typename"] == "TargetsFileRejectedError" and "nobody" in unknown["errors"][0]["message"]
    assert (await _targets(gql))["alice"] == [None, None, None, None]  # atomic: alice's valid row was not saved


async def test_rows_one_may_not_change_refuse_the_whole_file(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    text = "kind,id,name,2026-01-01\nUSER,carl,,3\nUSER,alice,,4\n"
    answer = (await gql(IMPORT, {"key": KEY, "csv": text, "dry": False}, as_user="carl"))["importTargetsPlan"]
    assert answer["__typename"] == "ForbiddenError"
    assert (await _targets(gql))["carl"] == [None, None, None, None]


async def test_the_command_line_exports_and_imports(seeded, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {"GOALGRAPH_DATABASE_URL": settings.database_url, "GOALGRAPH_DATABASE_SCHEMA": settings.database_schema or "",
           "GOALGRAPH_MIGRATE_ON_START": "0"}
    plan = tmp_path / "plan.csv"
    args = ["--year", "2026", "--goal-type", "DEALS_ADDED", "--measure", "COUNT", "--interval", "QUARTERLY"]
    exported = await asyncio.to_thread(CliRunner().invoke, cli, ["targets", "export", *args, "-o", str(plan)], env=env)
    assert exported.exit_code == 0, exported.output
    plan.write_text(plan.read_text().replace("USER,bob,bob,,,,", "USER,bob,bob,7,7,7,7"))
    dry = await asyncio.to_thread(CliRunner().invoke, cli, ["targets", "import", str(plan), *args, "--dry-run"], env=env)
    assert dry.exit_code == 0 and "4 targets checked (dry run, nothing saved)" in dry.output, dry.output
    done = await asyncio.to_thread(CliRunner().invoke, cli, ["targets", "import", str(plan), *args], env=env)
    assert done.exit_code == 0 and "4 targets saved; 1 plan goal(s) changed" in done.output, done.output
    broken = tmp_path / "broken.csv"
    broken.write_text("kind,id,name,2026-01-01\nUSER,bob,,lots\n")
    refused = await asyncio.to_thread(CliRunner().invoke, cli, ["targets", "import", str(broken), *args], env=env)
    assert refused.exit_code == 1 and f"{broken}:2: 2026-01-01: 'lots' is not a number" in refused.output, refused.output


async def test_a_bad_plan_key_is_refused_by_name(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    """Found by the fuzzer: a bad key was an internal error on import."""
    for key, field in (({**KEY, "goalType": ""}, "goalType"), ({**KEY, "year": 0}, "year"),
                       ({**KEY, "interval": "CUSTOM"}, "interval")):
        answer = (await gql(IMPORT, {"key": key, "csv": "kind,id,name\n", "dry": True}))["importTargetsPlan"]
        assert answer["__typename"] == "ValidationError", answer


CHANGES = """mutation($key: PlanKeyInput!, $csv: String!, $dry: Boolean!) { importTargetsPlan(key: $key, csv: $csv, dryRun: $dry) {
  __typename ... on TargetsImported { dryRun changes { key name periodStart periodLabel before after } } } }"""


async def test_an_import_says_which_targets_it_changes(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    """A dry run lists what would change (before → after); cells equal to the target set are not listed."""
    first = "kind,id,name,2026-01-01,2026-04-01\nUSER,alice,alice,10,12\nCOMPANY,,Company,40,\n"
    checked = (await gql(CHANGES, {"key": KEY, "csv": first, "dry": True}))["importTargetsPlan"]
    assert checked["dryRun"] is True
    assert [(c["key"], c["name"], c["periodLabel"], c["before"], c["after"]) for c in checked["changes"]] == [
        ("USER:alice", "alice", "2026-Q1", None, "10"), ("USER:alice", "alice", "2026-Q2", None, "12"),
        ("COMPANY", "Company", "2026-Q1", None, "40")]
    await gql(CHANGES, {"key": KEY, "csv": first, "dry": False})
    second = "kind,id,name,2026-01-01,2026-04-01\nUSER,alice,alice,10,15\n"
    changes = (await gql(CHANGES, {"key": KEY, "csv": second, "dry": True}))["importTargetsPlan"]["changes"]
    assert changes == [{"key": "USER:alice", "name": "alice", "periodStart": "2026-04-01", "periodLabel": "2026-Q2",
                        "before": "12", "after": "15"}]


async def test_a_file_uploaded_again_writes_only_what_was_edited(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    """A team leader without the statistics rights sees the team's row but may change only their own: their
    downloaded file, with only their own cell edited, is accepted (unchanged cells are not written)."""
    await gql(IMPORT, {"key": KEY, "csv": "kind,id,name,2026-01-01\nTEAM,north,,9\nUSER,bob,,4\nUSER,alice,,2\n", "dry": False})
    text = (await gql(EXPORT, {"key": KEY}, as_user="alice"))["targetsPlanCsv"]
    assert [line.split(",")[:2] for line in text.splitlines()[1:]] == [["TEAM", "north"], ["USER", "alice"], ["USER", "bob"]]
    same = (await gql(CHANGES, {"key": KEY, "csv": text, "dry": False}, as_user="alice"))["importTargetsPlan"]
    assert same == {"__typename": "TargetsImported", "dryRun": False, "changes": []}
    edited = text.replace("USER,alice,alice,2,", "USER,alice,alice,3,")
    saved = (await gql(CHANGES, {"key": KEY, "csv": edited, "dry": False}, as_user="alice"))["importTargetsPlan"]
    assert [(c["key"], c["before"], c["after"]) for c in saved["changes"]] == [("USER:alice", "2", "3")]
    assert (await _targets(gql))["alice"] == ["3", "0", "0", "0"]
    team = edited.replace("TEAM,north,North,9,", "TEAM,north,North,10,")
    refused = (await gql(IMPORT, {"key": KEY, "csv": team, "dry": False}, as_user="alice"))["importTargetsPlan"]
    assert refused == {"__typename": "ForbiddenError", "message": "you may not set targets for this team"}
