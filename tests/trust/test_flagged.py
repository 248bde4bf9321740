"""Flagged sellers: standing violations, open reports or a sharp fall each bring a seller to a moderator's eye."""

from __future__ import annotations

import pytest

from marketplace.credit import service as credit
from marketplace.errors import Forbidden
from marketplace.moderation import appeals
from marketplace.moderation.flagged import flagged


def _flags(actor) -> dict[int, list[str]]:
    return {item.user.id: item.reasons for item in flagged(actor)}


def test_nobody_is_flagged_on_a_quiet_day(db, seller, make_listing, moderator):
    make_listing()
    assert flagged(moderator) == []


def test_two_standing_violations_flag_a_seller_one_does_not(db, seller, violate, moderator2):
    violate("exaggeration")
    assert seller.id not in _flags(moderator2)

    violate("exaggeration")
    (item,) = flagged(moderator2)
    assert (item.user.id, item.violations, item.reasons) == (seller.id, 2, ["violations"])


def test_an_overturned_violation_no_longer_flags(db, seller, violate, moderator2):
    violate("exaggeration")
    second = violate("exaggeration")
    appeal = appeals.file(seller, second.id, "描述与实物一致，举报人误会了成色等级的含义。")
    appeals.decide(moderator2, appeal.id, "overturned", "复核后描述属实。")
    db.session.commit()

    assert seller.id not in _flags(moderator2)


def test_three_open_reports_flag_a_seller_two_do_not(db, seller, make_listing, reporters, report, moderator):
    first, second = make_listing(title="华为 Mate 60 雅丹黑"), make_listing(title="小米手环 8")
    report(reporters[0], first)
    report(reporters[1], first)
    assert _flags(moderator) == {}

    report(reporters[2], second)
    (item,) = flagged(moderator)
    assert (item.user.id, item.open_reports, item.reasons) == (seller.id, 3, ["open_reports"])


@pytest.mark.parametrize(("points", "flag"), [(-99, False), (-100, True)])
def test_a_fall_of_100_points_in_30_days_flags_a_seller(db, seller, supervisor, moderator, points, flag):
    credit.adjust(supervisor, seller, points, "测试：人工扣分")
    db.session.commit()

    flags = _flags(moderator)
    assert (flags.get(seller.id) == ["fall"]) is flag
    assert (seller.id in flags) is flag


def test_a_single_severe_violation_flags_by_the_fall(db, seller, violate, moderator2):
    violate("fake_transaction")

    (item,) = flagged(moderator2)
    assert (item.user.id, item.fall, item.violations, item.reasons) == (seller.id, 100, 1, ["fall"])


def test_a_flagged_seller_shows_their_black_list_entry(db, seller, violate, moderator2):
    entry = violate("counterfeit").blacklist_entry

    (item,) = flagged(moderator2)
    assert item.user.id == seller.id and "fall" in item.reasons
    assert item.entry.id == entry.id


def test_a_moderator_is_not_shown_themself(db, verified_user, make_listing, reporters, report, moderator, moderator2):
    listing = make_listing(user=moderator, title="审核员自己的旧手机")
    for reporter in reporters:
        report(reporter, listing)

    assert moderator.id not in _flags(moderator)
    assert _flags(moderator2) == {moderator.id: ["open_reports"]}


def test_a_resident_cannot_see_flagged_sellers(db, reporters):
    with pytest.raises(Forbidden):
        flagged(reporters[0])
