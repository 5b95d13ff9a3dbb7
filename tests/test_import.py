"""``goalgraph import``: NDJSON and CSV files into SQLite and PostgreSQL, run for real.

The importer is synchronous (it runs its own event loop), so the async tests call it in a
worker thread; the database is then read back through the GraphQL API.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given
from hypothesis import settings as settings_
from hypothesis import strategies as st
from sqlalchemy.exc import OperationalError

from goalgraph.cli import main as cli
from goalgraph.hookspecs import hookimpl
from goalgraph.ingest import bulk, validate
from goalgraph.ingest.bulk import EXIT_DATABASE, EXIT_OK, EXIT_REJECTED, EXIT_UNREADABLE, import_command, run_import
from goalgraph.ingest.upsert import Ingestor
from goalgraph.ingest.validate import Kind
from goalgraph.plugins import load_plugins
from goalgraph.settings import Settings
from goalgraph.testing.fixtures import GQL

T0 = "2026-01-10T09:00:00Z"
T1 = "2026-01-11T09:00:00Z"
T2 = "2026-01-12T09:00:00Z"
RECEIVED = datetime(2026, 1, 20, tzinfo=timezone.utc)

USERS = [
    {"kind": "user", "id": "u1", "name": "Alice Andersson", "email": "alice@example.com", "updated_at": T0},
    {"kind": "user", "id": "u2", "name": "Bjørn Berg", "updated_at": T0},
]
TEAM = {"kind": "team", "id": "t1", "name": "North", "member_ids": ["u1", "u2"], "leader_ids": ["u1"],
        "updated_at": T0}
PIPELINE = {"kind": "pipeline", "id": "p1", "name": "New business", "updated_at": T0, "stages": [
    {"id": "s1", "name": "Lead", "probability": 10},
    {"id": "s2", "name": "Proposal", "probability": 50},
]}
REFS = [*USERS, PIPELINE]


def deal(id: str = "d1", **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"kind": "deal", "id": id, "title": f"Deal {id}", "value": "1000.50", "currency": "EUR",
                           "owner_id": "u1", "stage_id": "s1", "added_at": T0, "updated_at": T0}
    row.update(over)
    return row


def write_ndjson(path: Path, rows: list[Any]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as fh:  # type: ignore[operator]
        fh.write("".join(line + "\n" for line in lines))
    return path


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8", newline="") as fh:  # type: ignore[operator]
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


async def run(settings: Settings, *files: Path, capsys: pytest.CaptureFixture[str] | None = None,
              **options: Any) -> tuple[int, str, str]:
    """Run the importer (in a thread: it has its own event loop); (exit code, stdout, stderr)."""
    if capsys is not None:
        capsys.readouterr()
    code = await asyncio.to_thread(import_command, settings, list(files), **options)
    out, err = capsys.readouterr() if capsys is not None else ("", "")
    return code, out, err


def table(out: str) -> dict[str, tuple[int, ...]]:
    """The summary's per-kind table (plain-text form) as kind → (read, created, updated, ignored, rejected)."""
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 6 and parts[0] in {"user", "team", "pipeline", "stage", "deal", "activity", "total"}:
            rows[parts[0]] = tuple(int(p.replace(",", "")) for p in parts[1:])
    return rows


def untouched(tmp_path: Path) -> Settings:
    """Settings for checks that must stop before the database is opened (it would create never.db)."""
    return Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'never.db'}", migrate_on_start=True)


async def counts(gql: GQL) -> dict[str, int]:
    data = await gql("{ users { totalCount } teams { totalCount } deals { totalCount } activities { totalCount } }")
    return {k: v["totalCount"] for k, v in data.items()}


DEAL_QUERY = """query($id: ID!) { deal(id: $id) { title value { amount currency } cost { amount } status
  attributes owner { id } stage { id } stageHistory { stage { id } enteredAt } } }"""


# -- NDJSON ---------------------------------------------------------------------------------------
async def test_ndjson_mixed_kinds_round_trip(
    settings: Settings, gql: GQL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_ndjson(tmp_path / "facts.ndjson", [
        *USERS, TEAM, PIPELINE,
        deal("d1", value=1234567.89, cost=0.1, attributes={"sale_type": "new", "seats": 12}),
        deal("d2", stage_id="s2", status="WON", won_at=T1, stage_entered_at=T1,
             stage_history=[{"stage_id": "s1", "entered_at": T0}]),
        {"kind": "activities", "id": "a1", "type": "Call", "owner_id": "u2", "deal_id": "d1", "added_at": T0,
         "done_at": T1},
    ])
    code, out, err = await run(settings, path, capsys=capsys, batch_size=2)
    assert code == EXIT_OK, out + err
    assert err == ""
    assert "Loaded all 7 row(s)." in out
    assert await counts(gql) == {"users": 2, "teams": 1, "deals": 2, "activities": 1}
    d1 = (await gql(DEAL_QUERY, id="d1"))["deal"]
    # Float amounts in NDJSON are read exactly, not through a binary float.
    assert d1["value"] == {"amount": "1234567.8900", "currency": "EUR"}
    assert d1["cost"] == {"amount": "0.1000"}
    assert d1["attributes"] == {"sale_type": "new", "seats": 12}
    assert d1["stageHistory"] == [{"stage": {"id": "s1"}, "enteredAt": "2026-01-10T09:00:00+00:00"}]
    d2 = (await gql(DEAL_QUERY, id="d2"))["deal"]
    assert d2["status"] == "WON"
    assert [h["stage"]["id"] for h in d2["stageHistory"]] == ["s1", "s2"]
    team = (await gql('{ team(id: "t1") { members { id } leaders { id } } }'))["team"]
    assert team == {"members": [{"id": "u1"}, {"id": "u2"}], "leaders": [{"id": "u1"}]}
    activity = (await gql('{ activity(id: "a1") { type done } }'))["activity"]
    assert activity == {"type": "call", "done": True}
    stages = (await gql('{ pipeline(id: "p1") { stages { id position probability } } }'))["pipeline"]["stages"]
    assert stages == [{"id": "s1", "position": 0, "probability": 10}, {"id": "s2", "position": 1, "probability": 50}]


async def test_summary_counts_every_row(settings: Settings, tmp_path: Path) -> None:
    path = write_ndjson(tmp_path / "facts.ndjson", [*REFS, deal("d1"), deal("d2"), deal("d1", updated_at=T1),
                                                     deal("d3", owner_id="ghost"), "{oops"])
    report = await asyncio.to_thread(run_import, settings, [path])
    deals = report.tallies[Kind.DEAL]
    # d1 twice in one batch: the newer copy wins, the older one counts as ignored.
    assert (deals.read, deals.created, deals.updated, deals.ignored, deals.rejected) == (4, 2, 0, 1, 1)
    assert report.tallies[Kind.STAGE].created == 2
    assert report.tallies[None].rejected == 1
    for tally in report.tallies.values():
        assert tally.read == tally.created + tally.updated + tally.ignored + tally.rejected
    assert report.rows == 8 and report.rejected == 2 and report.exit_code == EXIT_REJECTED


async def test_reimport_is_idempotent_and_stale_rows_are_ignored(
    settings: Settings, gql: GQL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = write_ndjson(tmp_path / "first.ndjson", [*REFS, deal("d1", updated_at=T1), deal("d2")])
    assert (await run(settings, first))[0] == EXIT_OK
    code, out, _ = await run(settings, first, capsys=capsys)
    assert code == EXIT_OK
    assert table(out)["deal"] == (2, 0, 2, 0, 0)
    assert (await counts(gql))["deals"] == 2

    stale = write_ndjson(tmp_path / "stale.ndjson", [deal("d1", stage_id="s2", value="5", updated_at=T0)])
    code, out, _ = await run(settings, stale, capsys=capsys)
    assert code == EXIT_OK
    assert table(out)["deal"] == (1, 0, 0, 1, 0)
    d1 = (await gql(DEAL_QUERY, id="d1"))["deal"]
    assert d1["value"]["amount"] == "1000.5000" and d1["stage"]["id"] == "s1"

    newer = write_ndjson(tmp_path / "newer.ndjson", [deal("d1", stage_id="s2", value="2000", updated_at=T2)])
    code, out, _ = await run(settings, newer, capsys=capsys)
    assert code == EXIT_OK and "stage changes recorded: 1" in out
    d1 = (await gql(DEAL_QUERY, id="d1"))["deal"]
    assert d1["value"]["amount"] == "2000.0000"
    assert [h["stage"]["id"] for h in d1["stageHistory"]] == ["s1", "s2"]
    assert (await counts(gql))["deals"] == 2


async def test_bad_rows_are_reported_by_line_and_field_and_good_rows_load(
    settings: Settings, gql: GQL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_ndjson(tmp_path / "deals.ndjson", [
        *REFS,                                                       # lines 1–3
        deal("d1"),                                                  # 4 fine
        '{"kind": "deal", "id": "d2", "title": ',                    # 5 malformed JSON
        deal("d3", colour="red"),                                    # 6 unknown field
        deal("d4", value="-5"),                                      # 7 negative value
        deal("d5", currency="EUX"),                                  # 8 unknown currency
        deal("d6", added_at="10/01/2026"),                           # 9 malformed date
        deal("d7", owner_id="ghost"),                                # 10 unknown reference
        "",                                                          # 11 blank: skipped
        '["not", "an", "object"]',                                   # 12
        {"id": "x"},                                                 # 13 no kind
        {"kind": "dael", "id": "x"},                                 # 14 unknown kind
        deal("d8"),                                                  # 15 fine
    ])
    rejects = tmp_path / "rejects.ndjson"
    code, out, err = await run(settings, path, capsys=capsys, rejects=rejects)
    assert code == EXIT_REJECTED
    name = str(path)
    assert err.splitlines() == [
        f"{name}:5: is not valid JSON: unexpected end of data: line 1 column 38 (char 37)",
        f"{name}:6: colour: is not a known field",
        f"{name}:7: value: -5 is negative; amounts must be zero or more",
        f"{name}:8: currency: 'EUX' is not an ISO 4217 currency code",
        f"{name}:9: added_at: '10/01/2026' is not an ISO 8601 timestamp (e.g. 2026-03-01T09:30:00+01:00)",
        f"{name}:10: owner_id: no user with id 'ghost'",
        f"{name}:12: must be a JSON object, got an array",
        f"{name}:13: kind: is required (one of user, team, pipeline, stage, deal, activity)",
        # … then the installed plugins' kinds: the example's quote, the service plugin's ticket
        f"{name}:14: kind: 'dael' is not a kind of fact; use one of user, team, pipeline, stage, deal, activity, quote, ticket",
    ]
    assert f"{name}: 14 row(s) read (lines 1–15), 9 rejected" in out
    assert "Loaded 5 row(s); 9 row(s) were rejected and not loaded" in out
    assert f"9 rejected row(s) written to {rejects}" in out
    data = await gql("{ deals { nodes { id } } }")
    assert [d["id"] for d in data["deals"]["nodes"]] == ["d1", "d8"]

    # The rejects file holds the rejected lines as they were, ready to fix and import again.
    lines = rejects.read_text().splitlines()
    assert len(lines) == 9
    assert lines[0] == '{"kind": "deal", "id": "d2", "title":'
    assert json.loads(lines[5]) == deal("d7", owner_id="ghost")
    fixed = [line.replace('"ghost"', '"u2"').replace('"EUX"', '"EUR"') for line in lines]
    write_ndjson(rejects, [line for line in fixed if '"d7"' in line or '"d5"' in line])
    code, out, _ = await run(settings, rejects, capsys=capsys)
    assert code == EXIT_OK, out
    assert (await counts(gql))["deals"] == 4


async def test_error_output_is_capped(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "MAX_SHOWN", 3)
    path = write_ndjson(tmp_path / "bad.ndjson", ["{oops"] * 10)
    code, out, err = await run(settings, path, capsys=capsys)
    assert code == EXIT_REJECTED
    lines = err.splitlines()
    assert len(lines) == 4
    assert lines[-1] == "… and 7 more problem(s) not shown; use --rejects FILE to collect every rejected row"


# -- transactions ---------------------------------------------------------------------------------
async def test_all_or_nothing_loads_nothing_when_a_row_is_bad(
    settings: Settings, gql: GQL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_ndjson(tmp_path / "facts.ndjson", [*REFS, deal("d1"), deal("d2", stage_id="nowhere"), deal("d3")])
    code, out, err = await run(settings, path, capsys=capsys, all_or_nothing=True, batch_size=2)
    assert code == EXIT_REJECTED
    assert f"{path}:5: stage_id: no stage with id 'nowhere'" in err
    assert "Nothing was loaded: 1 row(s) were rejected and --all-or-nothing rolled back the whole import." in out
    assert await counts(gql) == {"users": 0, "teams": 0, "deals": 0, "activities": 0}
    assert (await gql("{ pipelines { id } }"))["pipelines"] == []

    good = write_ndjson(tmp_path / "good.ndjson", [*REFS, deal("d1"), deal("d3")])
    code, out, _ = await run(settings, good, capsys=capsys, all_or_nothing=True)
    assert code == EXIT_OK and "Loaded all 5 row(s) in one transaction." in out
    assert (await counts(gql))["deals"] == 2


async def test_dry_run_writes_nothing(
    settings: Settings, gql: GQL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_ndjson(tmp_path / "facts.ndjson", [*REFS, TEAM, deal("d1"), deal("d2", owner_id="ghost")])
    code, out, err = await run(settings, path, capsys=capsys, dry_run=True, batch_size=1)
    assert code == EXIT_REJECTED
    assert f"{path}:6: owner_id: no user with id 'ghost'" in err
    assert "Dry run — nothing was written" in out
    assert table(out)["deal"] == (2, 1, 0, 0, 1)
    assert "Dry run: nothing was written. 1 row(s) would be rejected." in out
    assert await counts(gql) == {"users": 0, "teams": 0, "deals": 0, "activities": 0}


async def test_database_error_part_way_says_what_was_committed(
    settings: Settings, gql: GQL, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_ndjson(tmp_path / "facts.ndjson", [*REFS, *(deal(f"d{i}") for i in range(1, 7))])
    real_apply = Ingestor.apply
    calls = {"deals": 0}

    async def failing_apply(self, kind, records, prepared=None):  # type: ignore[no-untyped-def]
        if kind is Kind.DEAL:
            calls["deals"] += 1
            if calls["deals"] == 2:
                raise OperationalError("INSERT …", None, Exception("server closed the connection unexpectedly"))
        return await real_apply(self, kind, records, prepared)

    monkeypatch.setattr(Ingestor, "apply", failing_apply)
    code, out, err = await run(settings, path, capsys=capsys, batch_size=2)
    assert code == EXIT_DATABASE
    assert f"database error in {path} lines 6–7: Exception: server closed the connection unexpectedly" in err
    assert f"Committed before it stopped: {path} up to line 5." in out
    assert "Nothing after that was loaded." in out
    assert (await counts(gql))["deals"] == 2


# -- CSV ------------------------------------------------------------------------------------------
DEAL_HEADER = ["id", "title", "value", "currency", "owner_id", "stage_id", "status", "added_at", "won_at",
               "updated_at", "attributes.sale_type", "attributes.company_category"]


async def test_csv_files_of_every_kind(
    settings: Settings, gql: GQL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [
        write_csv(tmp_path / "users.csv", ["id", "name", "email", "active", "updated_at"],
                  [["u1", "Alice", "alice@example.com", "true", T0], ["u2", "Bjørn", "", "false", T0]]),
        write_csv(tmp_path / "teams.csv", ["id", "name", "member_ids", "leader_ids"], [["t1", "North", "u1;u2", "u1"]]),
        write_csv(tmp_path / "pipelines.csv", ["id", "name"], [["p1", "New business"]]),
        write_csv(tmp_path / "stages.csv", ["id", "pipeline_id", "name", "position", "probability"],
                  [["s1", "p1", "Lead", "0", "10"], ["s2", "p1", "Won", "1", "100"]]),
        write_csv(tmp_path / "deals-2026.csv", DEAL_HEADER, [
            ["d1", "Big, \"quoted\"\nand multi-line", "1234.5", "eur", "u1", "s1", "", T0, "", T0, "new", ""],
            ["d2", "Won one", "10", "EUR", "u2", "s2", "won", T0, T1, T1, "upsell", "smb"],
        ]),
        write_csv(tmp_path / "activities.csv", ["id", "type", "subject", "owner_id", "deal_id", "added_at",
                                                "attributes.channel"],
                  [["a1", "call", "Intro", "u1", "d1", T0, "phone"]]),
    ]
    code, out, err = await run(settings, *files, capsys=capsys)
    assert code == EXIT_OK, out + err
    assert await counts(gql) == {"users": 2, "teams": 1, "deals": 2, "activities": 1}
    d1 = (await gql(DEAL_QUERY, id="d1"))["deal"]
    assert d1["title"] == 'Big, "quoted"\nand multi-line'
    assert d1["value"] == {"amount": "1234.5000", "currency": "EUR"}
    assert d1["attributes"] == {"sale_type": "new"}  # empty cell = absent
    d2 = (await gql(DEAL_QUERY, id="d2"))["deal"]
    assert d2["status"] == "WON" and d2["attributes"] == {"sale_type": "upsell", "company_category": "smb"}
    user = (await gql('{ user(id: "u2") { email active teams { id } } }'))["user"]
    assert user == {"email": None, "active": False, "teams": [{"id": "t1"}]}
    activity = (await gql('{ activity(id: "a1") { attributes } }'))["activity"]
    assert activity == {"attributes": {"channel": "phone"}}


async def test_csv_bad_rows_and_rejects_file(
    settings: Settings, gql: GQL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refs = write_ndjson(tmp_path / "refs.ndjson", REFS)
    assert (await run(settings, refs))[0] == EXIT_OK
    path = write_csv(tmp_path / "deals.csv", DEAL_HEADER, [
        ["d1", "Fine", "10", "EUR", "u1", "s1", "", T0, "", T0, "", ""],                 # line 2
        ["d2", "Multi\nline", "-1", "EUR", "u1", "s1", "", T0, "", T0, "", ""],          # lines 3–4
        ["d3", "Short row"],                                                              # line 5
        ["d4", "Ghost", "10", "EUR", "ghost", "s1", "", T0, "", T0, "new", ""],          # line 6
        ["d5", "Bad date", "10", "EUR", "u1", "s1", "", "2026-13-01T00:00:00Z", "", T0, "", ""],  # line 7
    ])
    rejects = tmp_path / "rejects.csv"
    code, out, err = await run(settings, path, capsys=capsys, rejects=rejects)
    assert code == EXIT_REJECTED
    assert err.splitlines() == [
        f"{path}:3: value: -1 is negative; amounts must be zero or more",
        f"{path}:5: has 2 field(s); the header has {len(DEAL_HEADER)}",
        f"{path}:6: owner_id: no user with id 'ghost'",
        f"{path}:7: added_at: '2026-13-01T00:00:00Z' is not an ISO 8601 timestamp (e.g. 2026-03-01T09:30:00+01:00)",
    ]
    with open(rejects, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == DEAL_HEADER
    assert [r[0] for r in rows[1:]] == ["d2", "d3", "d4", "d5"]
    assert rows[1][1] == "Multi\nline"
    # Fix the rejects file and import it: kind comes from --kind (the name says "rejects").
    with open(rejects, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(DEAL_HEADER)
        writer.writerow(["d2", "Multi\nline", "1", "EUR", "u1", "s1", "", T0, "", T0, "", ""])
        writer.writerow(["d4", "Ghost", "10", "EUR", "u2", "s1", "", T0, "", T0, "new", ""])
    code, out, _ = await run(settings, rejects, capsys=capsys, kind="deals")
    assert code == EXIT_OK, out
    assert (await counts(gql))["deals"] == 3


async def test_csv_rejects_from_several_files_go_to_ndjson(settings: Settings, gql: GQL, tmp_path: Path) -> None:
    users = write_csv(tmp_path / "users.csv", ["id", "name"], [["u1", "Alice"], ["u2", ""]])
    deals = write_ndjson(tmp_path / "deals.ndjson", [PIPELINE, deal("d1"), deal("d2", owner_id="u2")])
    rejects = tmp_path / "rejects.ndjson"
    code, _, _ = await run(settings, users, deals, rejects=rejects)
    assert code == EXIT_REJECTED
    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert lines == [{"kind": "user", "id": "u2"}, deal("d2", owner_id="u2")]
    lines[0]["name"] = "Bjørn"
    write_ndjson(rejects, lines)
    assert (await run(settings, rejects))[0] == EXIT_OK
    assert (await counts(gql))["deals"] == 2


@pytest.mark.parametrize(("name", "header", "message"), [
    ("data.csv", ["id", "name"], "cannot tell which kind of fact this CSV file holds; name it after the kind "
                                 "(e.g. deals.csv, deals-2026.csv) or pass --kind"),
    ("deals.csv", ["id", "title", "colour"],
     "1: bad header: unknown column(s) for a deal: colour; missing required column(s) for a deal: value, added_at, "
     "currency, owner_id, stage_id"),
    ("deals.csv", [*DEAL_HEADER, "stage_history"], "1: bad header: stage_history is not supported in CSV"),
    ("pipelines.csv", ["id", "name", "stages"], "1: bad header: nested stages are not supported in CSV"),
    ("users.csv", ["id", "name", "name"], "1: bad header: column 'name' appears twice"),
    ("facts.json", ["id"], "cannot tell the format from the name; use .ndjson or .jsonl"),
])
async def test_files_that_cannot_be_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, header: list[str], message: str
) -> None:
    bad = write_csv(tmp_path / name, header, [["x"] * len(header)])
    code, out, err = await run(untouched(tmp_path), bad, capsys=capsys)
    assert code == EXIT_UNREADABLE
    assert f"goalgraph import: {bad}" in err and message in err, err
    assert err.rstrip().endswith("Nothing was loaded.")
    assert out == ""
    assert not (tmp_path / "never.db").exists()  # refused before the database was opened


async def test_files_are_all_checked_before_anything_loads(
    settings: Settings, gql: GQL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_ndjson(tmp_path / "good.ndjson", REFS)
    bad = write_csv(tmp_path / "deals.csv", ["id", "title", "colour"], [["d1", "x", "red"]])
    code, _, err = await run(settings, good, bad, capsys=capsys)
    assert code == EXIT_UNREADABLE and "unknown column(s) for a deal: colour" in err
    assert (await counts(gql))["users"] == 0  # the good file before it was not loaded either


async def test_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = untouched(tmp_path)
    path = write_ndjson(tmp_path / "facts.ndjson", REFS)
    assert (await run(settings, path, capsys=capsys, kind="widgets"))[2].startswith(
        "goalgraph import: --kind 'widgets' is not a kind of fact")
    assert "--batch-size 0: use 1–100,000" in (await run(settings, path, capsys=capsys, batch_size=0))[2]
    assert "--rejects" in (await run(settings, path, capsys=capsys, rejects=tmp_path / "rejects.txt"))[2]
    assert "is one of the input files" in (await run(settings, path, capsys=capsys, rejects=path))[2]
    csv_path = write_csv(tmp_path / "users.csv", ["id", "name"], [["u1", "A"]])
    code, _, err = await run(settings, csv_path, path, capsys=capsys, rejects=tmp_path / "rejects.csv")
    assert code == EXIT_UNREADABLE and "use a .ndjson rejects file instead" in err
    assert not (tmp_path / "never.db").exists()


# -- odd files ------------------------------------------------------------------------------------
async def test_empty_files(settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ndjson = tmp_path / "empty.ndjson"
    ndjson.write_bytes(b"")
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n  \n\n")
    csv_path = tmp_path / "deals.csv"
    csv_path.write_text("")
    header_only = write_csv(tmp_path / "users.csv", ["id", "name"], [])
    rejects = tmp_path / "rejects.ndjson"
    rejects.write_text("left over from an earlier run\n")
    code, out, err = await run(settings, ndjson, blank, csv_path, header_only, capsys=capsys, rejects=rejects)
    assert code == EXIT_OK, err
    assert err == ""
    assert not rejects.exists()  # no rejected rows: no rejects file
    assert f"{ndjson}: 0 row(s) read, 0 rejected" in out
    assert "Loaded all 0 row(s)." in out


async def test_gzipped_files(settings: Settings, gql: GQL, tmp_path: Path) -> None:
    refs = write_ndjson(tmp_path / "refs.ndjson.gz", REFS)
    deals = write_csv(tmp_path / "deals.csv.gz", DEAL_HEADER,
                      [["d1", "Zipped", "10", "EUR", "u1", "s1", "", T0, "", T0, "new", ""]])
    assert (await run(settings, refs, deals))[0] == EXIT_OK
    assert (await counts(gql))["deals"] == 1


async def test_corrupt_gzip_stops_and_says_what_loaded(
    settings: Settings, gql: GQL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [*REFS, *(deal(f"d{i}", title=f"Deal {i * 7919 % 10007} {i * 104729 % 99991}") for i in range(600))]
    path = write_ndjson(tmp_path / "deals.ndjson.gz", rows)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # truncated download
    code, out, err = await run(settings, path, capsys=capsys, batch_size=50)
    assert code == EXIT_UNREADABLE
    assert "cannot read the file past line" in err
    assert "IMPORT STOPPED" in out
    committed = re.search(r"Committed before it stopped: \S+ up to line ([\d,]+)\.", out)
    assert committed, out
    # Exactly the deals up to the last committed line are stored (the first 3 lines are users and a pipeline).
    assert (await counts(gql))["deals"] == int(committed.group(1).replace(",", "")) - 3


async def test_json_array_file_is_refused(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "facts.ndjson"
    path.write_text(json.dumps(REFS, indent=2))
    code, out, err = await run(settings, path, capsys=capsys)
    assert code == EXIT_UNREADABLE
    assert f"{path}:1: this is a JSON document, not NDJSON" in err
    assert "Nothing was committed." in out


async def test_kind_option_for_ndjson_rows_without_kind(settings: Settings, gql: GQL, tmp_path: Path) -> None:
    users = write_ndjson(tmp_path / "people.ndjson", [{k: v for k, v in u.items() if k != "kind"} for u in USERS])
    assert (await run(settings, users, kind="users"))[0] == EXIT_OK
    assert (await counts(gql))["users"] == 2


async def test_not_utf8_csv(settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "users.csv"
    path.write_bytes("id,name\nu1,Bj\u00f8rn\n".encode("latin-1"))
    code, _, err = await run(settings, path, capsys=capsys)
    assert code == EXIT_UNREADABLE
    assert f"{path}:2: is not UTF-8 text" in err


# -- the command line -----------------------------------------------------------------------------
async def test_cli(settings: Settings, gql: GQL, tmp_path: Path) -> None:
    path = write_ndjson(tmp_path / "facts.ndjson", [*REFS, deal("d1")])
    env = {"GOALGRAPH_DATABASE_URL": settings.database_url, "GOALGRAPH_DATABASE_SCHEMA": settings.database_schema or "",
           "GOALGRAPH_MIGRATE_ON_START": "1"}
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["import", "--no-progress", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert "Loaded all 4 row(s)." in result.output
    assert (await counts(gql))["deals"] == 1
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["import", str(tmp_path / "missing.ndjson")], env=env)
    assert result.exit_code == 2 and "does not exist" in result.output


async def test_same_results_without_the_postgresql_copy_path(
    settings: Settings, gql: GQL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A role without the TEMPORARY privilege (or PostgreSQL < 11) gets the portable path: same counts."""

    async def no_copy(self: Ingestor) -> bool:
        return False

    monkeypatch.setattr(Ingestor, "_use_copy_path", no_copy)
    path = write_ndjson(tmp_path / "facts.ndjson", [*REFS, TEAM, deal("d1"), deal("d2"), deal("d1", updated_at=T1),
                                                     deal("d3", owner_id="ghost")])
    report = await asyncio.to_thread(run_import, settings, [path])
    deals = report.tallies[Kind.DEAL]
    assert (deals.read, deals.created, deals.updated, deals.ignored, deals.rejected) == (4, 2, 0, 1, 1)
    assert report.stage_changes == 2
    again = await asyncio.to_thread(run_import, settings, [path])
    deals = again.tallies[Kind.DEAL]
    assert (deals.created, deals.updated, deals.ignored, deals.rejected) == (0, 2, 1, 1)
    assert again.stage_changes == 0
    assert (await counts(gql))["deals"] == 2


async def test_committed_batches_are_announced_like_the_mutation(settings: Settings, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """goalgraph_facts_ingested fires once per committed transaction; never for a dry run."""
    calls: list[dict[str, dict[str, int]]] = []

    class Recorder:
        @hookimpl
        def goalgraph_facts_ingested(self, counts):  # type: ignore[no-untyped-def]
            calls.append(counts)

    plugins = load_plugins(strict=True, extra=[("recorder", Recorder())])
    real_open = bulk.open_runtime
    monkeypatch.setattr(bulk, "open_runtime", lambda s, **kw: real_open(s, plugins=plugins, **kw))
    path = write_ndjson(tmp_path / "facts.ndjson", [*REFS, deal("d1"), deal("d2"), deal("d3", owner_id="ghost")])
    assert (await run(settings, path, dry_run=True))[0] == EXIT_REJECTED
    assert calls == []
    assert (await run(settings, path, batch_size=2))[0] == EXIT_REJECTED
    # users (2) | pipeline + stages | d1, d2 | d3 rejected: nothing written, nothing announced
    assert [{k: v["created"] for k, v in c.items() if v["created"]} for c in calls] == [
        {"user": 2}, {"pipeline": 1, "stage": 2}, {"deal": 2}]
    calls.clear()
    assert (await run(settings, path, all_or_nothing=True))[0] == EXIT_REJECTED
    assert calls == []  # rolled back


# -- the fast paths -------------------------------------------------------------------------------
_TEXTS = st.sampled_from(["d1", "  d1 ", "", " ", "x" * 129, "x" * 301, "a\x00b", "a\ud800b", "Bjørn", "ß" * 4,
                          "eur", "EUR", " sek ", "XXX", "won", " WON ", "LOST", "stalled", "bogus", "OPEN"])
_MOMENTS = st.sampled_from(["2026-01-10T09:00:00Z", " 2026-01-10T10:00:00+01:00 ", "2026-01-10T09:00:00",
                            "2026-01-10", "1969-12-31T23:59:59Z", "2100-01-01T00:00:00Z", "2026-01-09T09:00:00Z",
                            "2026-01-11T09:00:00.5-03:30", "yesterday", "", "2026-01-10T09:00:00\x00Z"])
_AMOUNTS = st.sampled_from([0, 1, -1, 10**13, 0.1, 1234567.89, 1e-5, 1.5e300, True, "12.3456", "12.34567", " 5 ",
                            "-0", "NaN", "Infinity", "abc", "", "1e3", "\ud800"])
_VALUES = st.one_of(st.none(), _TEXTS, _MOMENTS, _AMOUNTS, st.integers(-(2**64), 2**64), st.floats(),
                    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                         max_size=2))
_ATTRIBUTES = st.one_of(st.none(), st.just(""), st.just([]), st.dictionaries(
    st.one_of(st.text(max_size=3), st.sampled_from(["", "k" * 65, "a\x00", "sale_type"])),
    st.one_of(st.none(), st.booleans(), st.integers(-(2**64), 2**64), st.floats(), st.text(max_size=3),
              st.just("v" * 501), st.just("a\udfffb"), st.lists(st.integers(), max_size=1)),
    max_size=3), st.dictionaries(st.text(min_size=1, max_size=3), st.integers(), min_size=51, max_size=52))
_DEAL_KEYS = ["id", "title", "value", "currency", "cost", "owner_id", "pipeline_id", "stage_id", "status",
              "added_at", "won_at", "lost_at", "expected_close_date", "stage_entered_at", "updated_at"]


@settings_(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.dictionaries(st.sampled_from([*_DEAL_KEYS, "stage_history", "extra"]), _VALUES, max_size=4),
       dropped=st.sets(st.sampled_from(_DEAL_KEYS), max_size=2), attributes=_ATTRIBUTES,
       close=st.sampled_from([None, "2026-02-01", " 2026-02-01 ", "2026-02-30", "1969-12-31", "20260201", 5]))
def test_plain_deals_read_in_one_pass_as_field_by_field(changes: dict[str, Any], dropped: set[str],
                                                        attributes: Any, close: Any) -> None:
    """The one-pass reading of a plain deal (validate._plain_deal) returns exactly what the
    field-by-field reading returns, and gives way to it for anything else."""
    raw: dict[str, Any] = {k: v for k, v in deal("d1", cost=12.5, pipeline_id="p1", status="WON", won_at=T1,
                                                   expected_close_date=close).items() if k != "kind"}
    if attributes is not None:
        raw["attributes"] = attributes
    for key in dropped:
        raw.pop(key, None)
    raw.update(changes)
    raw = {k: v for k, v in raw.items() if v is not None or k in changes}
    errors: list[Any] = []
    slow = validate._read_deal(raw, (1,), errors, RECEIVED)
    fast = validate._plain_deal(raw, RECEIVED)
    if fast is not None:
        assert errors == [] and fast == slow
    assert validate.parse_deal(raw, (1,), [], RECEIVED) == slow


def test_the_one_pass_reading_takes_the_common_deal() -> None:
    raw = {k: v for k, v in deal("d1", value=1234.5, attributes={"sale_type": "new", "seats": 3}).items()
           if k != "kind"}
    fast = validate._plain_deal(raw, RECEIVED)
    assert fast is not None and fast == validate._read_deal(raw, (1,), [], RECEIVED)
    assert validate._plain_deal({**raw, "stage_history": [{"stage_id": "s1", "entered_at": T0}]}, RECEIVED) is None


async def test_out_of_order_versions_across_prepared_batches(
    settings: Settings, gql: GQL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    """Batches prepared ahead (PostgreSQL) or not (SQLite): a newer version is never overwritten by an
    older one arriving in a later batch, duplicates in one batch keep the newest, a reference unknown
    to the caches is resolved (or rejected) when its batch is written, and each stage change is
    recorded once."""
    prepared: list[bool] = []
    real_prepare = Ingestor.prepare

    def spy(self: Ingestor, kind: Kind, records: Any) -> Any:
        result = real_prepare(self, kind, records)
        if kind is Kind.DEAL:
            prepared.append(result is not None)
        return result

    monkeypatch.setattr(Ingestor, "prepare", spy)
    path = write_ndjson(tmp_path / "facts.ndjson", [
        *REFS,
        deal("d1", stage_id="s2", value="3", updated_at=T2), deal("d2"),           # batch 1 (newest d1 first)
        deal("d1", stage_id="s1", value="1", updated_at=T0), deal("d3"),           # batch 2: older d1 ignored
        deal("d2", stage_id="s2", updated_at=T1), deal("d2", value="7", updated_at=T0),  # batch 3: T1 wins
        deal("d4", owner_id="u2"), deal("d5", owner_id="ghost"),                   # batch 4: u2 first seen here
        deal("d3", stage_id="s2", updated_at=T1), deal("d1", value="2", updated_at=T1),  # batch 5
    ])
    code, out, err = await run(settings, path, capsys=capsys, batch_size=2)
    assert code == EXIT_REJECTED, out + err
    assert f"{path}:11: owner_id: no user with id 'ghost'" in err
    assert table(out)["deal"] == (10, 4, 2, 3, 1)
    assert "stage changes recorded: 6" in out  # 4 new deals + d2 and d3 moving to s2
    d1 = (await gql(DEAL_QUERY, id="d1"))["deal"]
    assert d1["value"]["amount"] == "3.0000" and d1["stage"]["id"] == "s2"
    assert [h["stage"]["id"] for h in d1["stageHistory"]] == ["s2"]
    d2 = (await gql(DEAL_QUERY, id="d2"))["deal"]
    assert d2["value"]["amount"] == "1000.5000" and [h["stage"]["id"] for h in d2["stageHistory"]] == ["s1", "s2"]
    d3 = (await gql(DEAL_QUERY, id="d3"))["deal"]
    assert [h["stage"]["id"] for h in d3["stageHistory"]] == ["s1", "s2"]
    assert (await gql(DEAL_QUERY, id="d4"))["deal"]["owner"]["id"] == "u2"
    # PostgreSQL prepares deal batches ahead once the caches know their references; SQLite never does.
    if settings.database_url.startswith("postgresql"):
        assert True in prepared and False in prepared
    else:
        assert True not in prepared


async def test_a_batch_prepared_before_a_stage_moved_uses_the_stage_as_it_is_now(
    settings: Settings, gql: GQL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reader may prepare the next deal batch while a stage batch moving a stage to another
    pipeline is written; that batch is prepared again (the caches changed), so its deals get the
    stage's new pipeline, never the cached old one."""
    other = {"kind": "pipeline", "id": "p2", "name": "Renewals", "updated_at": T0,
             "stages": [{"id": "s9", "name": "Due", "probability": 20}]}
    path = write_ndjson(tmp_path / "facts.ndjson", [
        *REFS, other, deal("d1"), deal("d2"),
        {"kind": "stage", "id": "s1", "pipeline_id": "p2", "name": "Lead", "position": 1, "probability": 10,
         "updated_at": T1},
        deal("d3"), deal("d4"),
    ])
    code, out, err = await run(settings, path, capsys=capsys, batch_size=2)
    assert code == EXIT_OK, out + err
    query = 'query($id: ID!) { deal(id: $id) { pipeline { id } stage { id } } }'
    assert (await gql(query, id="d1"))["deal"] == {"pipeline": {"id": "p1"}, "stage": {"id": "s1"}}
    for id_ in ("d3", "d4"):
        assert (await gql(query, id=id_))["deal"] == {"pipeline": {"id": "p2"}, "stage": {"id": "s1"}}


async def test_batches_over_two_connections_commit_in_order_and_hand_over_their_effect(
    settings: Settings, gql: GQL, runtime: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL, deal batches sharing no id with the batch being written go over a second
    connection at the same time (SQLite: one connection); a fact in two batches is written by one after
    the other, so the newer version wins and the later line wins a tie; and the one in-transaction hook
    (before_commit) gets each batch's effect: the owners before and after, the span of old and new
    timestamps (stage history included)."""
    from sqlalchemy import select

    from goalgraph.db.models import User

    seen: list[tuple[int, Any, bool]] = []
    real = bulk._Announcer.before_commit

    async def spy(self: Any, session: Any, summary: Any, effect: Any, *, final: bool = False) -> bool:
        seen.append((id(session), effect, final))
        return await real(self, session, summary, effect, final=final)

    monkeypatch.setattr(bulk._Announcer, "before_commit", spy)
    path = write_ndjson(tmp_path / "facts.ndjson", [
        *REFS,
        deal("d1"), deal("d2"),                                                   # batch 1
        deal("d3"), deal("d4"),                                                   # batch 2: beside batch 1
        deal("d1", owner_id="u2", stage_id="s2", status="WON", won_at=T2, updated_at=T1), deal("d5"),  # shares d1
        deal("d5", value="5"), deal("d6"),                                        # d5 again, same time: later wins
    ])
    code, out, err = await run(settings, path, capsys=capsys, batch_size=2)
    assert code == EXIT_OK, out + err
    assert table(out)["deal"] == (8, 6, 2, 0, 0)
    assert "stage changes recorded: 7" in out  # six new deals + d1 moving to s2
    d1 = (await gql(DEAL_QUERY, id="d1"))["deal"]
    assert d1["owner"]["id"] == "u2" and [h["stage"]["id"] for h in d1["stageHistory"]] == ["s1", "s2"]
    assert (await gql(DEAL_QUERY, id="d5"))["deal"]["value"]["amount"] == "5.0000"

    async with runtime.sessions() as session:
        ids = dict((await session.execute(select(User.external_id, User.id))).all())
    deal_batches = [(sid, e) for sid, e, _ in seen if Kind.DEAL in e.kinds]
    assert len(deal_batches) == 4
    assert len({sid for sid, _ in deal_batches}) == (2 if settings.database_url.startswith("postgresql") else 1)
    at = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    effects = [(e.owners, e.first, e.last) for _, e in deal_batches]
    assert effects[0] == ({ids["u1"]}, at(T0), at(T0))
    assert effects[2] == ({ids["u1"], ids["u2"]}, at(T0), at(T2))  # d1 before (u1, T0) and after (u2, T1–T2)
    marked = bulk.store_effect(deal_batches[2][1])  # what the progress store is told
    assert marked.owners == {ids["u1"], ids["u2"]} and marked.days == {at(t).date() for t in (T0, T1, T2)}
    users = next(e for _, e, _ in seen if Kind.USER in e.kinds)
    assert users.owners is None  # not a fact with an owner: any user may be affected

    seen.clear()
    more = write_ndjson(tmp_path / "more.ndjson", [deal("d7", owner_id="u2", added_at=T1, updated_at=T1)])
    assert (await run(settings, more, all_or_nothing=True))[0] == EXIT_OK
    assert [(e.kinds, e.owners, e.first, e.last, final) for _, e, final in seen] == [
        ({Kind.DEAL}, {ids["u2"]}, at(T1), at(T1), True)]


async def test_foreign_keys_checked_per_batch_still_refuse_a_missing_reference(
    settings: Settings, runtime: Any, tmp_path: Path
) -> None:
    """PostgreSQL as a role that may set session_replication_role: a batch's references are locked
    and checked at once and the per-row triggers are off only for its statement; a reference the
    caches know but that no longer exists leaves the triggers on, so the row is refused as before."""
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("the COPY path is PostgreSQL's")
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    assert (await run(settings, write_ndjson(tmp_path / "refs.ndjson", REFS)))[0] == EXIT_OK

    def parsed(id_: str, owner: str) -> list[Any]:
        raw = {k: v for k, v in deal(id_, owner_id=owner).items() if k != "kind"}
        return [((1,), validate.parse_deal(raw, (1,), [], RECEIVED))]

    async with runtime.sessions() as session:
        ingestor = Ingestor(session, lenient=True)
        counts, _, errors = await ingestor.apply(Kind.DEAL, parsed("d1", "u1"))
        assert (counts.created, errors) == (1, [])
        assert ingestor.caches.batch_references is True  # the test database's role is a superuser
        assert (await session.execute(text("SHOW session_replication_role"))).scalar() == "origin"
        await ingestor._resolve(Kind.USER, {"u2"})  # u2 now cached
        await session.commit()
        async with runtime.sessions() as other, other.begin():
            await other.execute(text("DELETE FROM users WHERE external_id = 'u2'"))
        with pytest.raises(DBAPIError, match="foreign key"):
            await ingestor.apply(Kind.DEAL, parsed("d2", "u2"))
        await session.rollback()
        assert (await session.execute(text("SELECT count(*) FROM deals"))).scalar() == 1
