"""Exporting the black list: CSV that Excel reads (BOM, no formulas), JSON, the same filters, audited."""

from __future__ import annotations

import csv
import io
import json

import sqlalchemy as sa

from marketplace.audit.models import AuditEntry
from marketplace.supervision.export import COLUMNS, safe_cell


def _exports(db) -> list[dict]:
    rows = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "supervision.exported"))
    return [{"actor": row.actor_id, **json.loads(row.data)} for row in rows]


def test_csv_opens_in_excel_and_runs_no_formulas(client, login, db, seller, propose, supervisor):
    seller.display_name = '=HYPERLINK("http://x")'
    db.session.commit()
    entry = propose()
    login(supervisor)
    resp = client.get("/supervision/export/blacklist.csv")
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    body = resp.get_data()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert list(rows[0]) == list(COLUMNS)
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == str(entry.id)
    assert row["display_name"] == '\'=HYPERLINK("http://x")'
    assert row["real_name_masked"] == "张*三"
    assert row["reason"] == "counterfeit" and row["state"] == "pending" and row["violation"] == "counterfeit"
    assert row["appeal_status"] == ""
    assert "张小三" not in body.decode("utf-8-sig")


def test_every_formula_start_is_guarded():
    for value in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(value) == "'" + value
    assert safe_cell("张*三") == "张*三"
    assert safe_cell(None) == ""


def test_export_follows_the_filters_and_is_audited(client, login, db, sellers, propose, confirm, supervisor):
    pending = propose(user=sellers[0])
    active = confirm(supervisor, propose(user=sellers[1]))
    login(supervisor)
    body = client.get("/supervision/export/blacklist.csv?state=active").get_data().decode("utf-8-sig")
    ids = [row["id"] for row in csv.DictReader(io.StringIO(body))]
    assert ids == [str(active.id)]
    assert str(pending.id) not in ids
    assert _exports(db) == [
        {"actor": supervisor.id, "format": "csv", "rows": 1, "filters": {"state": "active"}},
    ]


def test_json_export(client, login, db, seller, propose, supervisor):
    entry = propose()
    login(supervisor)
    resp = client.get("/supervision/export/blacklist.json?reason=counterfeit")
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    doc = json.loads(resp.get_data(as_text=True))
    assert doc["count"] == 1 and doc["filters"] == {"reason": "counterfeit"}
    assert [item["id"] for item in doc["items"]] == [entry.id]
    assert doc["items"][0]["real_name_masked"] == "张*三"
    assert doc["items"][0]["proposed_by"] is not None
    assert _exports(db)[0]["format"] == "json"


def test_export_of_nothing_is_a_header_only(client, login, db, supervisor):
    login(supervisor)
    body = client.get("/supervision/export/blacklist.csv").get_data().decode("utf-8-sig")
    assert body.strip() == ",".join(COLUMNS)
    assert _exports(db)[0]["rows"] == 0


def test_bad_filters_and_unknown_formats_export_nothing(client, login, db, supervisor):
    login(supervisor)
    assert client.get("/supervision/export/blacklist.csv?proposed_from=yesterday").status_code == 422
    assert client.get("/supervision/export/blacklist.xlsx").status_code == 404
    assert _exports(db) == []


def test_large_exports_come_in_batches(client, login, db, monkeypatch, sellers, seller, propose, supervisor):
    from marketplace.supervision import service

    monkeypatch.setattr(service, "BATCH", 2)
    made = [propose(user=user).id for user in (seller, *sellers)]
    login(supervisor)
    body = client.get("/supervision/export/blacklist.csv").get_data().decode("utf-8-sig")
    assert [int(row["id"]) for row in csv.DictReader(io.StringIO(body))] == sorted(made, reverse=True)
