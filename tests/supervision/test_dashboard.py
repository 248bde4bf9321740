"""The monthly dashboard: an SVG chart per figure, with the same numbers in a table below it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from marketplace.db import utcnow
from marketplace.supervision import charts, dashboard


def _row(html: str, key: str, month: str) -> list[int]:
    """The numbers of one month's row in one figure's data table."""
    section = html.split(f'id="{key}-heading"', 1)[1].split("</section>", 1)[0]
    cells = re.search(rf'<th scope="row">{month}</th>(.*?)</tr>', section, re.S).group(1)
    return [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', cells)]


def test_dashboard_charts_the_months_figures(
    client, login, db, make_listing, reporters, report, decide, moderator, supervisor, propose
):
    listing = make_listing(title="九成新 iPhone 13")
    made = [report(r, listing) for r in reporters]
    decide(moderator, made[0], "confirmed", "hidden_defect")
    old = report(reporters[0], make_listing(title="八成新 洗衣机"), reason="exaggeration")
    two_months_ago = utcnow().replace(day=1) - timedelta(days=40)
    old.created_at = two_months_ago
    db.session.commit()
    propose(title="原装正品 AirPods Pro 2")

    this_month = utcnow().strftime("%Y-%m")
    login(supervisor)
    html = client.get("/supervision").get_data(as_text=True)
    assert html.count("<svg") >= 6
    assert 'role="img"' in html and "<desc" in html
    # Three reports on the phone and one on the counterfeit listing this month; one two months ago.
    assert _row(html, "reports_opened", this_month) == [4]
    assert _row(html, "reports_opened", two_months_ago.strftime("%Y-%m")) == [1]
    # Decided by outcome: dismissed, confirmed, malicious, total (three reports closed by one decision).
    assert _row(html, "reports_decided", this_month) == [0, 4, 0, 4]
    assert _row(html, "blacklist", this_month) == [1, 0, 0, 0]
    # exaggeration, hidden defect, fake transaction, counterfeit, prohibited, total.
    assert _row(html, "violations", this_month) == [0, 1, 0, 1, 0, 2]


def test_months_are_the_last_twelve_utc_months():
    now = datetime(2026, 2, 10, tzinfo=UTC)
    shown = dashboard.months(now)
    assert shown[0] == "2025-03" and shown[-1] == "2026-02" and len(shown) == 12
    assert dashboard.window_start(now) == datetime(2025, 3, 1, tzinfo=UTC)


def test_chart_markup_escapes_text_and_describes_itself():
    svg = str(
        charts.bar_chart(
            chart_id="c1",
            title="<script>alert(1)</script>",
            desc="举报 & 处理",
            labels=["01\n2026", "02"],
            series=[("确认", [3, 0]), ("驳回", [1, 2])],
            stacked=True,
        )
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "举报 &amp; 处理" in svg
    assert 'aria-labelledby="c1-title c1-desc"' in svg
    assert svg.count('<rect class="chart__bar') == 3  # zero values draw no bar
    assert ">4</text>" in svg  # the stacked total above the first month


@pytest.mark.parametrize("peak", [0, 1, 3, 7, 9, 23, 480, 1001, 123456])
def test_axis_tops_are_round_numbers_just_above_the_peak(peak):
    top, step = charts.nice_scale(peak)
    assert top >= peak and top % step == 0 and top // step <= 5
    assert str(step).rstrip("0") in ("1", "2", "5")
    assert top - step < max(peak, 1)  # no empty tick at the top
