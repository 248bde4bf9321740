"""Objects that belong to someone, for the IDOR and mass-assignment walks: one small world made through the services.

`owned_world` gives people (by key) and object ids (by key). The owners are `a` (a resident who sells,
buys, reports, is penalised once, registers for events and swaps) and the people dealing with her; the
strangers who try her objects are `b` (a verified resident with no staff role and a stall of her own at
the same swap event) and `o2` (an organiser of other events). `snapshot()` reads every table, so a walk
can check that a refused request changed nothing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.identity.factories import make_id_number
from tests.listings.sellers import jpeg_bytes, phone_answers

__all__ = ["owned_world"]  # what `from tests.security.owned import *` brings: the fixture

BUYER_SCORES = {"accuracy": 5, "communication": 5, "punctuality": 4}
SELLER_SCORES = {"communication": 5, "punctuality": 5}


class Upload:
    """A file as a form posts it (what photos.prepare reads)."""

    def __init__(self, content: bytes, filename: str = "photo.jpg"):
        self.stream = io.BytesIO(content)
        self.filename = filename


@dataclass
class World:
    people: dict = field(default_factory=dict)
    ids: dict = field(default_factory=dict)
    stems: dict = field(default_factory=dict)

    def fmt(self, template: str) -> str:
        return template.format(**self.ids, **self.stems)


def _snapshot_queries(db) -> list[tuple[str, str]]:
    queries = []
    preparer = db.engine.dialect.identifier_preparer
    for table in db.metadata.sorted_tables:
        order = list(table.primary_key.columns) or list(table.columns)
        by = ", ".join(preparer.quote(c.name) for c in order)
        queries.append((table.name, f"SELECT * FROM {preparer.quote(table.name)} ORDER BY {by}"))
    return queries


def snapshot(db) -> dict[str, list[tuple]]:
    """Every row of every table (ordered by primary key): two equal snapshots mean nothing was written."""
    db.session.commit()
    with db.engine.connect() as conn:
        return {name: [tuple(row) for row in conn.exec_driver_sql(sql)] for name, sql in _snapshot_queries(db)}


def differences(before: dict, after: dict) -> list[str]:
    """The tables whose rows differ, with how (row counts, or changed rows)."""
    changed = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name, []), after.get(name, [])
        if old == new:
            continue
        if len(old) != len(new):
            changed.append(f"{name}: {len(old)} → {len(new)} rows")
        else:
            rows = [str(n) for o, n in zip(old, new, strict=True) if o != n][:2]
            changed.append(f"{name}: changed {'; '.join(rows)[:300]}")
    return changed


def _listing(db, user, **fields):
    from marketplace.listings import service

    values = {
        "title": "华为 Mate 60 手机 256GB 雅丹黑",
        "description": "自用一年，一直带壳贴膜。\n\n送原装充电器。",
        "category": "phone",
        "price_fen": 329900,
        "district": "xingqing",
        "grading": phone_answers(),
    }
    values.update(fields)
    listing = service.create(user, service.ListingInput(**values))
    db.session.commit()
    return listing


def _photo(db, user, listing, colour) -> str:
    from marketplace.listings import photos

    (stem,) = photos.add_photos(user, listing, [photos.prepare(Upload(jpeg_bytes(colour=colour)))])
    db.session.commit()
    return stem


def _swap_event(db, organiser, title="金凤社区换物日"):
    """A community swap open to anyone verified, 5 stalls, in 3 days."""
    from marketplace.db import utcnow
    from marketplace.events import service
    from marketplace.events.service import EventInput

    starts = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    data = EventInput(
        title=title,
        kind="community_swap",
        description="带上闲置，换点用得上的。",
        venue="金凤区万达广场北侧",
        district="jinfeng",
        starts_at=starts,
        ends_at=starts + timedelta(hours=4),
        registration_deadline=starts - timedelta(days=1),
        stalls=5,
        restriction="none",
        campus=None,
    )
    event = service.create(organiser, data)
    db.session.commit()
    return event


@pytest.fixture
def owned_world(db, verified_user, make_user, submit_request):
    """The people and the ids of what they own (see the module's docstring)."""
    from marketplace.db import utcnow
    from marketplace.events import service as events
    from marketplace.events import settlement, swaps
    from marketplace.events.models import Event
    from marketplace.identity.models import IdentityVerification
    from marketplace.listings import service as listings
    from marketplace.moderation import appeals, decisions
    from marketplace.moderation import service as moderation
    from marketplace.notices.models import Notice
    from marketplace.orders import messages
    from marketplace.orders import service as orders
    from marketplace.ratings import service as ratings

    w = World()
    p = w.people
    p["a"] = verified_user("owner_a", real_name="王小明")
    p["s"] = verified_user("seller_s", real_name="李卖")
    p["t"] = verified_user("trader_t", real_name="赵换")
    p["b"] = verified_user("stranger_b", real_name="陈陌")
    p["r"] = verified_user("reporter_r", real_name="孙举")
    p["pen"] = verified_user("penalised_p", real_name="周罚")
    p["m"] = verified_user("mod_m", roles=("moderator",), real_name="钱审")
    p["sup"] = verified_user("sup_s", roles=("supervisor",), real_name="吴监")
    p["o"] = verified_user("org_o", roles=("organiser",), real_name="郑组")
    p["o2"] = verified_user("org_o2", roles=("organiser",), real_name="冯组")
    p["u"] = make_user("pending_u")
    ids = w.ids

    # a's listings: one on sale (public), one withdrawn (only she sees it), each with a photo.
    on_sale = _listing(db, p["a"], title="小米空气净化器 手机 在售")
    hidden = _listing(db, p["a"], title="华为 手机 已下架 私密")
    w.stems["photo_public"] = _photo(db, p["a"], on_sale, (10, 120, 10))
    w.stems["photo_hidden"] = _photo(db, p["a"], hidden, (10, 10, 120))
    listings.withdraw(p["a"], hidden)
    db.session.commit()
    ids.update(listing=on_sale.id, hidden=hidden.id, photo=on_sale.photos[0].id, hidden_photo=hidden.photos[0].id)

    # a buys from s: an open request with messages, and a completed order both have rated.
    wanted = _listing(db, p["s"], title="二手 手机 卖家S")
    bought = _listing(db, p["s"], title="二手 手机 已成交")
    order = orders.request(p["a"], wanted.id, "周末可以当面交易吗？")
    db.session.commit()
    messages.post(p["a"], order, "我周六下午有空。")
    messages.post(p["s"], order, "好的，周六见。")
    done = orders.request(p["a"], bought.id, "想要")
    db.session.commit()
    orders.accept(p["s"], done)
    db.session.commit()
    orders.complete(p["a"], done)
    db.session.commit()
    by_a = ratings.rate(p["a"], done, BUYER_SCORES, "卖家很守时")
    db.session.commit()
    about_a = ratings.rate(p["s"], done, SELLER_SCORES, "买家爽快")
    db.session.commit()
    ids.update(order=order.id, done_order=done.id, rating_by_a=by_a.id, rating_about_a=about_a.id)
    ids["s_listing"] = wanted.id

    # a reports s's listing (an open report in the moderators' queue).
    report = moderation.report_listing(p["a"], wanted.id, "hidden_defect", "实物屏幕有划痕，描述说无划痕。")
    db.session.commit()
    ids["report"] = report.id

    # A confirmed decision against a (not appealed), and p's counterfeit with its black-list entry and appeal.
    bad = _listing(db, p["a"], title="夸大 手机 被举报")
    against_a = moderation.report_listing(p["r"], bad.id, "exaggeration", "描述说全新，实际有明显使用痕迹。")
    db.session.commit()
    decision_a = decisions.decide(p["m"], against_a.id, "confirmed", "exaggeration", "照片与实物不符，确认违规。")
    db.session.commit()
    fake = _listing(db, p["pen"], title="全新 手机 高仿")
    against_p = moderation.report_listing(p["r"], fake.id, "counterfeit", "序列号查不到，明显是高仿。")
    db.session.commit()
    decision_p = decisions.decide(p["m"], against_p.id, "confirmed", "counterfeit", "确认假冒。")
    db.session.commit()
    appeal = appeals.file(p["pen"], decision_p.id, "这是正品，有购买发票，可以提供给审核员核实。")
    db.session.commit()
    ids.update(decision=decision_a.id, decision_p=decision_p.id, appeal=appeal.id)
    ids["entry"] = decision_p.blacklist_entry.id

    # A community swap run by o: a, t and b have stalls and brought a listing each; t offers a swap to a.
    fair = _swap_event(db, p["o"])
    reg_a = events.register(p["a"], fair.id, "stall")
    events.register(p["t"], fair.id, "stall")
    reg_b = events.register(p["b"], fair.id, "stall")
    db.session.commit()
    at_fair = _listing(db, p["a"], title="带到活动 手机 A")
    t_listing = _listing(db, p["t"], title="带到活动 手机 T")
    b_listing = _listing(db, p["b"], title="带到活动 手机 B")
    events.attach(p["a"], fair, [at_fair.id])
    events.attach(p["t"], fair, [t_listing.id])
    events.attach(p["b"], fair, [b_listing.id])
    db.session.commit()
    offer = swaps.make_offer(p["t"], fair, at_fair.id, [t_listing.id], "换吗？")
    db.session.commit()
    ids.update(event=fair.id, registration=reg_a.id, at_fair=at_fair.id, swap=offer.id)
    ids.update(b_registration=reg_b.id, b_listing=b_listing.id, t_listing=t_listing.id)
    ids["checkin_code"] = reg_a.checkin_code

    # An event that is over: a never came, was marked a no-show, and appealed.
    past = _swap_event(db, p["o"], title="上个月的换物日")
    reg_past = events.register(p["a"], past.id, "stall")
    db.session.commit()
    ends = utcnow().replace(microsecond=0) - timedelta(hours=3)
    db.session.execute(
        sa.update(Event)
        .where(Event.id == past.id)
        .values(starts_at=ends - timedelta(hours=4), ends_at=ends, registration_deadline=ends - timedelta(days=1))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(past)
    assert settlement.settle(past) == 1
    db.session.commit()
    db.session.refresh(reg_past)
    settlement.appeal(p["a"], reg_past, "那天早上发高烧去了医院，来不及提前取消，有病历可以证明。")
    db.session.commit()
    ids.update(past_event=past.id, no_show=reg_past.id)

    # Identity: a's own (approved) request, and u's pending one.
    ids["verification"] = db.session.scalar(
        sa.select(IdentityVerification.id).where(IdentityVerification.user_id == p["a"].id)
    )
    ids["pending_verification"] = submit_request(p["u"], id_number=make_id_number("640105")).id
    ids["notice"] = db.session.scalar(sa.select(sa.func.max(Notice.id)).where(Notice.user_id == p["a"].id))
    assert ids["notice"] is not None
    for key in ("a", "s", "b", "m", "pen", "o", "o2", "u"):
        ids[f"user_{key}"] = p[key].id
    return w
