"""The moderators' pages: the risk-ordered queue, the report page, the two-step decision, flagged sellers,
and the decision page the penalised person reads."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from marketplace.credit.policy import policy
from marketplace.moderation.models import Decision, Report
from marketplace.notices.models import Notice

NOTE = "照片与实物不符，屏幕有明显划痕，确认违规。"


def _decisions(db):
    return list(db.session.scalars(sa.select(Decision).order_by(Decision.id)))


def _text(resp) -> str:
    return resp.get_data(as_text=True)


@pytest.fixture
def other_client(app):
    """A second browser, for a second person signed in at the same time."""
    return app.test_client()


# --- who may see what ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/moderation/reports", "/moderation/flagged", "/moderation/reports/1"])
def test_the_pages_need_a_login(client, path):
    resp = client.get(path)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_a_resident_is_refused_the_queue_and_the_report(client, login, make_listing, reporters, report):
    made = report(reporters[0], make_listing())
    login(reporters[1])
    assert client.get("/moderation/reports").status_code == 403
    assert client.get("/moderation/flagged").status_code == 403
    assert client.get(f"/moderation/reports/{made.id}").status_code == 404
    resp = client.post(f"/moderation/reports/{made.id}/decide", data={"outcome": "dismissed", "confirm": "1"})
    assert resp.status_code == 404
    assert made.status == "open"


def test_a_moderator_never_opens_a_report_on_their_own_listing(
    client, login, make_listing, moderator, reporters, report
):
    own = make_listing(user=moderator, title="审核员自己的旧手机")
    made = report(reporters[0], own)
    login(moderator)
    assert "审核员自己的旧手机" not in _text(client.get("/moderation/reports"))
    assert client.get(f"/moderation/reports/{made.id}").status_code == 404
    resp = client.post(f"/moderation/reports/{made.id}/decide", data={"outcome": "dismissed", "confirm": "1"})
    assert resp.status_code == 404
    assert made.status == "open"


def test_a_moderator_who_reported_the_listing_is_told_why_and_refused(
    client, login, db, make_listing, moderator, reporters, report
):
    listing = make_listing()
    report(moderator, listing)
    theirs = report(reporters[0], listing)
    login(moderator)
    html = _text(client.get(f"/moderation/reports/{theirs.id}"))
    assert "你也举报过这件商品" in html
    assert 'name="outcome"' not in html
    resp = client.post(
        f"/moderation/reports/{theirs.id}/decide",
        data={"outcome": "confirmed", "violation": "hidden_defect", "note": NOTE, "confirm": "1"},
    )
    assert resp.status_code == 403
    assert _decisions(db) == []
    assert listing.status == "active"


# --- the queue ----------------------------------------------------------------------------------------


def test_the_queue_puts_the_listing_with_more_reporters_first(
    client, login, make_listing, moderator, reporters, report
):
    quiet = make_listing(title="一位举报人的台灯")
    loud = make_listing(title="三位举报人的手机")
    report(reporters[0], quiet)
    for reporter in reporters:
        report(reporter, loud)
    login(moderator)
    html = _text(client.get("/moderation/reports"))
    assert html.index("三位举报人的手机") < html.index("一位举报人的台灯")
    assert "3 位举报人" in html and "+60" in html
    assert "隐瞒关键信息或缺陷" in html and "用户举报" in html


def test_an_empty_queue_says_what_will_appear(client, login, moderator):
    login(moderator)
    html = _text(client.get("/moderation/reports"))
    assert "目前没有待处理的举报" in html


def test_the_queue_pages_by_twenty(client, login, make_listing, moderator, reporters, report, db):
    for n in range(21):
        report(reporters[n % 3], make_listing(title=f"第{n:02d}件商品"))
    login(moderator)
    first = _text(client.get("/moderation/reports"))
    second = _text(client.get("/moderation/reports?page=2"))
    assert "第 1 / 2 页" in first and "?page=2" in first
    # Same risk: the oldest report first, so the last one made is alone on page two.
    assert "第20件商品" in second and "第20件商品" not in first
    assert "第00件商品" in first


# --- the report page and the two-step decision ------------------------------------------------------


def test_the_report_page_shows_the_listing_as_reported(
    client, login, db, make_listing, moderator, reporters, report, seller
):
    from marketplace.listings import service as listings

    listing = make_listing(title="九成新 华为手机", description="<p>屏幕<b>完好</b>无划痕</p>")
    made = report(reporters[0], listing, detail="屏幕右上角有划痕")
    listings.edit(seller, listing, listings.ListingInput(title="改过的标题"))
    db.session.commit()
    login(moderator)
    html = _text(client.get(f"/moderation/reports/{made.id}"))
    assert "九成新 华为手机" in html and "改过的标题" in html
    assert "举报之后卖家修改过这件商品" in html
    assert "<b>完好</b>" in html  # the description as the listing page renders it (sanitised HTML)
    assert "屏幕右上角有划痕" in html
    assert reporters[0].display_name in html
    assert f"/users/{seller.id}/credit" in html
    assert 'name="outcome"' in html and 'value="confirmed"' in html


def test_an_inspectors_report_shows_both_grades_and_what_differed(
    client, login, db, make_user, make_listing, moderator
):
    from marketplace.moderation import certification
    from tests.listings.sellers import phone_answers

    inspector = make_user("insp", roles=("inspector",))
    listing = make_listing()
    cert = certification.certify(inspector, listing.id, phone_answers(screen="visible", battery_health=85))
    db.session.commit()
    login(moderator)
    queue = _text(client.get("/moderation/reports"))
    assert "验货结果" in queue and "验货等级比申报低两级或以上" in queue and "+40" in queue
    html = _text(client.get(f"/moderation/reports/{cert.opened_report.id}"))
    assert "系统自动提交" in html
    assert "A（95新）" in html and "相差" in html and "2 级" in html
    assert "检查结果不同的项目" in html and "battery_health" not in html


def _decide(client, report_id, **data):
    return client.post(f"/moderation/reports/{report_id}/decide", data=data)


def test_confirming_shows_the_consequences_first_then_applies_them(
    client, login, db, make_listing, moderator, reporters, report, seller
):
    listing = make_listing()
    made = [report(r, listing) for r in reporters[:2]]
    before = seller.credit_score
    penalty = policy()["penalties"]["hidden_defect"]
    login(moderator)

    form = {"outcome": "confirmed", "violation": "hidden_defect", "note": NOTE}
    resp = _decide(client, made[0].id, **form)
    html = _text(resp)
    assert resp.status_code == 200
    assert f"扣 {penalty} 分" in html and f"由 {before} 变为 {before - penalty}" in html
    assert "商品被下架" in html and 'name="confirm" value="1"' in html
    # Nothing happened yet.
    assert _decisions(db) == [] and listing.status == "active" and seller.credit_score == before

    resp = _decide(client, made[0].id, **form, confirm="1")
    [decision] = _decisions(db)
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/decisions/{decision.id}")
    db.session.refresh(listing)
    db.session.refresh(seller)
    assert listing.status == "removed"
    assert seller.credit_score == before - penalty
    assert {db.session.get(Report, r.id).status for r in made} == {"confirmed"}
    notice = db.session.scalar(
        sa.select(Notice).where(Notice.user_id == seller.id, Notice.kind == "decision.confirmed")
    )
    assert notice is not None and notice.subject_id == decision.id
    html = _text(client.get(resp.headers["Location"]))
    assert "已作出审核决定" in html and NOTE in html and f"−{penalty} 分" in html


def test_a_repeat_violation_is_announced_with_its_multiplier(
    client, login, make_listing, violate, moderator2, reporters, report
):
    violate("exaggeration")
    made = report(reporters[1], make_listing())
    login(moderator2)
    html = _text(_decide(client, made.id, outcome="confirmed", violation="hidden_defect", note=NOTE))
    penalty = policy()["penalties"]["hidden_defect"]
    assert f"扣 {penalty * 2} 分" in html and "第 2 次确认违规，按 2 倍计" in html


def test_a_counterfeit_announces_the_black_list_proposal(client, login, make_listing, moderator, reporters, report):
    made = report(reporters[0], make_listing(), reason="counterfeit")
    login(moderator)
    html = _text(_decide(client, made.id, outcome="confirmed", violation="counterfeit", note="鉴定为仿冒品。"))
    assert "提议将此人列入黑名单：销售假冒伪劣商品" in html


def test_a_malicious_report_costs_the_reporter(client, login, db, make_listing, moderator, reporters, report):
    reporter = reporters[0]
    made = report(reporter, make_listing())
    before = reporter.credit_score
    penalty = policy()["penalties"]["malicious_report"]
    login(moderator)
    form = {"outcome": "malicious", "note": "多次恶意举报同一卖家。"}
    html = _text(_decide(client, made.id, **form))
    assert f"扣 {penalty} 分" in html and reporter.display_name in html
    resp = _decide(client, made.id, **form, confirm="1")
    assert resp.status_code == 302
    db.session.refresh(reporter)
    assert reporter.credit_score == before - penalty


def test_a_refused_decision_keeps_the_note_as_typed(client, login, db, make_listing, moderator, reporters, report):
    made = report(reporters[0], make_listing())
    login(moderator)
    resp = _decide(client, made.id, outcome="", violation="hidden_defect", note="待定 <b>核实</b>")
    html = _text(resp)
    assert resp.status_code == 422
    assert 'id="outcome-error"' in html
    assert "待定 &lt;b&gt;核实&lt;/b&gt;" in html
    resp = _decide(client, made.id, outcome="confirmed", violation="hidden_defect", note="", confirm="1")
    assert resp.status_code == 422 and 'id="note-error"' in _text(resp)
    assert _decisions(db) == []


def test_going_back_from_the_confirmation_keeps_the_choices(client, login, make_listing, moderator, reporters, report):
    made = report(reporters[0], make_listing())
    login(moderator)
    resp = _decide(client, made.id, outcome="confirmed", violation="exaggeration", note=NOTE, confirm="1", back="1")
    html = _text(resp)
    assert resp.status_code == 200 and NOTE in html
    assert re.search(r'value="exaggeration"[^>]*selected|selected[^>]*value="exaggeration"', html)
    assert made.status == "open"


def test_deciding_a_report_someone_else_decided_goes_back_to_the_queue(
    client, login, db, make_listing, moderator, moderator2, reporters, report, decide
):
    made = report(reporters[0], make_listing())
    login(moderator2)
    assert 'name="outcome"' in _text(client.get(f"/moderation/reports/{made.id}"))
    decide(moderator, made, "dismissed", note="")
    resp = _decide(client, made.id, outcome="confirmed", violation="hidden_defect", note=NOTE, confirm="1")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/moderation/reports")
    assert "已被其他审核员处理" in _text(client.get("/moderation/reports"))
    assert len(_decisions(db)) == 1 and _decisions(db)[0].outcome == "dismissed"


# --- flagged sellers -------------------------------------------------------------------------------


def test_a_seller_with_two_violations_is_flagged(client, login, violate, moderator2, seller):
    login(moderator2)
    assert "目前没有需要重点关注的卖家" in _text(client.get("/moderation/flagged"))
    violate("exaggeration")
    violate("hidden_defect")
    html = _text(client.get("/moderation/flagged"))
    assert seller.display_name in html
    assert "一年内 2 次确认违规" in html
    assert f"/users/{seller.id}/credit" in html and f"seller={seller.id}" in html


# --- the decision page -------------------------------------------------------------------------------


def test_the_penalised_seller_reads_the_decision_without_the_deciders_name(
    client, login, other_client, violate, moderator, seller, reporters
):
    decision = violate("hidden_defect")
    login(seller)
    resp = client.get(f"/decisions/{decision.id}")
    html = _text(resp)
    assert resp.status_code == 200
    assert "确认违规" in html and "照片与实物不符" in html
    assert moderator.display_name not in html and "审核员" in html
    assert f"/decisions/{decision.id}/appeal" in html
    login(reporters[1], other_client)
    assert other_client.get(f"/decisions/{decision.id}").status_code == 404


def test_moderators_see_who_decided(client, login, violate, moderator, moderator2):
    decision = violate("hidden_defect")
    login(moderator2)
    html = _text(client.get(f"/decisions/{decision.id}"))
    assert moderator.display_name in html
    assert f"/moderation/reports/{decision.report_id}" in html


def test_the_navigation_shows_moderators_their_queues(client, login, other_client, moderator, supervisor, reporters):
    login(moderator)
    html = _text(client.get("/"))
    for path in ("/moderation/reports", "/moderation/flagged", "/moderation/appeals"):
        assert f'href="{path}"' in html
    login(supervisor, other_client)
    html = _text(other_client.get("/"))
    assert 'href="/moderation/appeals"' in html and 'href="/moderation/reports"' not in html
    login(reporters[0])
    html = _text(client.get("/"))
    assert 'href="/moderation/reports"' not in html and 'href="/moderation/appeals"' not in html
