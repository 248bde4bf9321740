"""Demo events for seed-demo: flea markets at both campuses, community swaps, a book-sharing day.

Everything goes through the events, swaps, listings and ratings services, so registrations,
stall counts, orders, credit and notices are real. An event that is over by now is made
as an upcoming one first (the services only let people register for and swap at events
still to come), then moved into the past with one UPDATE of its times (and of the times of
its registrations, swaps and their orders), then checked in (inside the check-in window,
with `now=` during the event) and settled. What the demo city shows afterwards:

- 宁夏大学 and 北方民族大学 each had a market about two weeks ago (open to neighbours too):
  check-ins, one stallholder who never came (a no-show, penalised; the one at 民大 has
  appealed), swaps accepted with their completed orders, a few of them rated both ways;
- each campus has one coming up: 宁夏大学's is for its verified students only (a resident
  is refused with the reason), 林同学 has a stall with a QR code and an offer to answer;
  民大's is full, with one stallholder on the waiting list and visitors;
- a community swap in 兴庆区 last week (its swap still to be rated) and one coming up in
  金凤区 for the district's residents only; a book-sharing day coming up.

Two demo users whose last credit entries the moderation demo leaves as they are (何同学的书,
马同学) only register, bring listings and make offers: nothing here changes their ledgers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.db import db, utcnow
from marketplace.events import service as events
from marketplace.events import settlement, swaps
from marketplace.events.models import Event, Registration, SwapOffer
from marketplace.listings import service as listings
from marketplace.listings.models import Listing
from marketplace.moderation.models import Report
from marketplace.orders.models import Order, OrderEvent
from marketplace.ratings import service as ratings
from marketplace.ratings.models import Rating

# Listings made when a participant has no free one of the kind (books, clothes and bicycles swap well).
EXTRA_ITEMS = {
    "books": [
        ("《线性代数》同济第六版 附习题册", "12", "上学期用过，有少量铅笔笔记，习题册没写过。"),
        ("《数据结构》严蔚敏 C 语言版", "15", "考研复习用过一遍，书角有点卷。"),
        ("大学物理 马文蔚 上下册", "18", "九成新，划线不多。"),
    ],
    "clothing": [
        ("宁大文化衫 M 码 全新", "25", "社团活动发的，买大了一直没穿，吊牌还在。"),
        ("优衣库 摇粒绒外套 L 码", "45", "穿过一冬，洗得很干净。"),
    ],
    "bicycles": [("永久 复古自行车 26 寸", "160", "骑了两年，刚换过内胎，车筐和锁一起送。")],
    "other": [("小米 台灯 1S", "40", "宿舍用的，光线很柔和，毕业带不走。")],
}
GOOD_COMMENTS = ("换到了想要的东西，对方很守时。", "东西和说的一样，交换很顺利。", "沟通愉快，下次活动再见！", "")


@dataclass
class Summary:
    """What seed-demo prints: counts by status, and where to look."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    hints: list[str] = field(default_factory=list)


class _Demo:
    """The demo users, a clock in Beijing time and the listings already used by this seed."""

    def __init__(self, rng: random.Random, users: dict[str, User]) -> None:
        self.rng = rng
        self.users = users
        self.used: set[int] = set()
        self.extra = {category: list(items) for category, items in EXTRA_ITEMS.items()}
        self.today = utcnow().astimezone(events.SHANGHAI).date()

    def at(self, days: int, hour: int, minute: int = 0) -> datetime:
        """`days` from today at hour:minute Beijing time, as UTC."""
        day = self.today + timedelta(days=days)
        local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=events.SHANGHAI)
        return local.astimezone(UTC)

    def item(self, username: str, *categories: str) -> Listing:
        """The user's first free active listing of the first category that has one, else a new one."""
        user = self.users[username]
        for category in categories:
            listing = db.session.scalar(
                sa.select(Listing)
                .where(
                    Listing.seller_id == user.id,
                    Listing.category == category,
                    Listing.status == "active",
                    Listing.event_id.is_(None),
                    Listing.recycle_only.is_(False),
                    Listing.id.not_in(self.used or [0]),
                    ~sa.exists().where(Order.listing_id == Listing.id),
                    ~sa.exists().where(Report.listing_id == Listing.id),
                )
                .order_by(Listing.id)
                .limit(1)
            )
            if listing is not None:
                self.used.add(listing.id)
                return listing
        return self.new_item(username, categories[0])

    def new_item(self, username: str, category: str) -> Listing:
        """A new listing made through the listings service, as the user would."""
        title, price, description = self.extra[category].pop(0)
        listing = listings.create(
            self.users[username],
            listings.ListingInput(
                title=title,
                description=description + "\n\n活动现场可以当面看，也可以换物。",
                category=category,
                price=price,
                district="xixia",
            ),
        )
        self.used.add(listing.id)
        return listing


def _create(demo: _Demo, organiser: str, **fields) -> Event:
    return events.create(demo.users[organiser], events.EventInput(**fields))


def _register(demo: _Demo, event: Event, username: str, role: str, *, bring: tuple[str, ...] = ()) -> Registration:
    """Register; a stallholder with a stall brings one listing per category named."""
    user = demo.users[username]
    registration = events.register(user, event.id, role)
    if bring and registration.status == "registered":
        events.attach(user, event, [demo.item(username, category).id for category in bring])
    return registration


def _offer(demo: _Demo, event: Event, offerer: str, want: Listing, give: list[Listing], message: str) -> SwapOffer:
    return swaps.make_offer(demo.users[offerer], event, want.id, [listing.id for listing in give], message)


def _one(demo: _Demo, event: Event, username: str, category: str) -> Listing:
    """The user's listing of the category at the event."""
    return next(listing for listing in events.attached(demo.users[username], event) if listing.category == category)


def _rate_both(demo: _Demo, order: Order) -> None:
    """Both parties rate a swap order well (the rewards are paid at the reveal)."""
    high = (5, 5, 5, 4)
    ratings.rate(
        order.buyer,
        order,
        {"accuracy": demo.rng.choice(high), "communication": demo.rng.choice(high), "punctuality": 5},
        demo.rng.choice(GOOD_COMMENTS),
    )
    ratings.rate(
        order.seller,
        order,
        {"communication": demo.rng.choice(high), "punctuality": demo.rng.choice(high)},
        demo.rng.choice(GOOD_COMMENTS),
    )


def _into_past(event: Event, days: int, offers: list[SwapOffer]) -> None:
    """Move an event made `days` ahead back into the past, with its registrations and swaps.

    Registrations are moved by the same days (they were made before the event); each swap,
    its orders and their ratings happen during the event, a quarter of an hour apart.
    """
    db.session.flush()
    delta = timedelta(days=days)
    starts = event.starts_at - delta
    db.session.execute(
        sa.update(Event)
        .where(Event.id == event.id)
        .values(
            starts_at=starts,
            ends_at=event.ends_at - delta,
            registration_deadline=event.registration_deadline - delta,
            created_at=event.created_at - delta,
            updated_at=event.updated_at - delta,
        )
    )
    made = db.session.execute(
        sa.select(Registration.id, Registration.created_at).where(Registration.event_id == event.id)
    ).all()
    for registration_id, created_at in made:
        db.session.execute(
            sa.update(Registration).where(Registration.id == registration_id).values(created_at=created_at - delta)
        )
    for i, offer in enumerate(offers):
        made = starts + timedelta(minutes=30 + 15 * i)
        decided = made + timedelta(minutes=10)
        db.session.execute(sa.update(SwapOffer).where(SwapOffer.id == offer.id).values(created_at=made))
        if offer.decided_at is not None:
            db.session.execute(sa.update(SwapOffer).where(SwapOffer.id == offer.id).values(decided_at=decided))
        for order in swaps.orders_of(offer):
            db.session.execute(
                sa.update(Order)
                .where(Order.id == order.id)
                .values(created_at=decided, accepted_at=decided, completed_at=decided)
            )
            db.session.execute(sa.update(OrderEvent).where(OrderEvent.order_id == order.id).values(at=decided))
            db.session.execute(
                sa.update(Listing)
                .where(Listing.id == order.listing_id, Listing.status == "swapped")
                .values(updated_at=decided)
            )
            # Rated that evening: the second rating revealed both.
            rated = decided + timedelta(hours=5)
            db.session.execute(
                sa.update(Rating).where(Rating.order_id == order.id).values(created_at=rated, visible_from=rated)
            )
    db.session.expire_all()


def _check_in(event: Event, organiser: User, registrations: list[Registration]) -> None:
    """The organiser checks people in at the gate, a few minutes apart, during the event."""
    for i, registration in enumerate(registrations):
        events.check_in(organiser, event, registration.checkin_code, now=event.starts_at + timedelta(minutes=5 + 3 * i))


def _settle(event: Event) -> int:
    return settlement.settle(event, now=event.ends_at + timedelta(hours=3))


# --- the events ----------------------------------------------------------------------------------


def _nxu_past(demo: _Demo) -> Event:
    """宁夏大学, about two weeks ago: three swaps, four check-ins, a no-show."""
    ahead = 15  # made 2 days ahead, then moved back 15 days: 13 days ago
    event = _create(
        demo,
        "org_nxu",
        title="宁夏大学周末跳蚤市场",
        kind="campus_flea",
        description="同学们把用不上的书、衣服、自行车带来，可以卖也可以换。周边居民也欢迎来摆摊。",
        venue="宁夏大学怀远校区 东门广场",
        district="xixia",
        starts_at=demo.at(-13 + ahead, 9, 30),
        ends_at=demo.at(-13 + ahead, 12, 30),
        registration_deadline=demo.at(-14 + ahead, 20, 0),
        stalls=8,
        restriction="none",
        campus="nxu",
    )
    lin = _register(demo, event, "nxu_lin", "stall", bring=("bicycles", "clothing", "baby"))
    fang = _register(demo, event, "wangfang", "stall", bring=("other", "furniture"))
    yang = _register(demo, event, "liuyang", "stall", bring=("books", "clothing", "bicycles"))
    _register(demo, event, "chenjing", "stall", bring=("baby", "baby"))  # never comes
    zhou = _register(demo, event, "zhouxin", "visitor")
    _register(demo, event, "nmu_bai", "visitor")

    lin_items = events.attached(demo.users["nxu_lin"], event)
    yang_items = events.attached(demo.users["liuyang"], event)
    bike = next(listing for listing in lin_items if listing.category == "bicycles")
    coat = next(listing for listing in lin_items if listing.category == "clothing")
    first = _offer(
        demo,
        event,
        "wangfang",
        bike,
        [events.attached(demo.users["wangfang"], event)[-1]],
        "我这个用得很少，想换你的自行车给孩子上学骑。",
    )
    given = [listing for listing in yang_items if listing.category in ("books", "clothing")]
    second = _offer(demo, event, "liuyang", coat, given, "两样换你一件，可以吗？")
    third = _offer(
        demo,
        event,
        "zhouxin",
        next(listing for listing in yang_items if listing.category == "bicycles"),
        [demo.item("zhouxin", "bicycles", "furniture")],
        "想换你的车，我的也是好骑的。",
    )
    for order in swaps.accept(demo.users["nxu_lin"], first):
        _rate_both(demo, order)
    swapped = swaps.accept(demo.users["nxu_lin"], second)
    _rate_both(demo, swapped[0])
    swaps.decline(demo.users["liuyang"], third)

    _into_past(event, ahead, [first, second, third])
    _check_in(event, demo.users["org_nxu"], [lin, fang, yang, zhou])
    _settle(event)
    return event


def _nmu_past(demo: _Demo) -> Event:
    """北方民族大学, eleven days ago: two swaps, four check-ins, a no-show who appealed."""
    ahead = 13
    event = _create(
        demo,
        "org_nmu",
        title="北方民族大学换物跳蚤集市",
        kind="campus_flea",
        description="民大换物社主办。摆摊免费，鼓励以物换物；旧衣物有专门的捐赠箱。",
        venue="北方民族大学 图书馆前广场",
        district="xixia",
        starts_at=demo.at(-11 + ahead, 14, 0),
        ends_at=demo.at(-11 + ahead, 17, 30),
        registration_deadline=demo.at(-12 + ahead, 22, 0),
        stalls=6,
        restriction="none",
        campus="nmu",
    )
    bai = _register(demo, event, "nmu_bai", "stall", bring=("clothing", "books"))
    chen = _register(demo, event, "chenjing", "stall", bring=("books", "clothing"))
    shop = _register(demo, event, "huanbao_shop", "stall", bring=("bicycles", "clothing"))
    absent = _register(demo, event, "liuyang", "stall", bring=("phone",))  # never comes
    fang = _register(demo, event, "wangfang", "visitor")
    _register(demo, event, "nxu_lin", "visitor")

    bai_items = events.attached(demo.users["nmu_bai"], event)
    first = _offer(
        demo,
        event,
        "chenjing",
        next(listing for listing in bai_items if listing.category == "clothing"),
        [next(listing for listing in events.attached(demo.users["chenjing"], event) if listing.category == "books")],
        "书我看完了，换你的衣服可以吗？",
    )
    second = _offer(
        demo,
        event,
        "nmu_bai",
        _one(demo, event, "huanbao_shop", "bicycles"),
        [next(listing for listing in bai_items if listing.category == "books")],
        "老板，用这本书换这辆车行吗？",
    )
    for order in swaps.accept(demo.users["nmu_bai"], first):
        _rate_both(demo, order)
    swaps.accept(demo.users["huanbao_shop"], second)

    _into_past(event, ahead, [first, second])
    _check_in(event, demo.users["org_nmu"], [bai, chen, shop, fang])
    _settle(event)
    db.session.expire_all()
    settlement.appeal(
        demo.users["liuyang"],
        absent,
        "那天上午突然发高烧去了医院，来不及提前一天取消，有医院的挂号单可以证明。",
    )
    return event


def _xingqing_swap(demo: _Demo) -> Event:
    """A community swap in 兴庆区 last week, open to all: one swap (still to be rated), three check-ins."""
    ahead = 8
    event = _create(
        demo,
        "org_jinfeng",
        title="兴庆区邻里换物日",
        kind="community_swap",
        description="带一件闲置，换一件需要的。婴儿用品、家具、小家电都欢迎。",
        venue="兴庆区 中山公园南门广场",
        district="xingqing",
        starts_at=demo.at(-6 + ahead, 9, 0),
        ends_at=demo.at(-6 + ahead, 11, 30),
        registration_deadline=demo.at(-7 + ahead, 20, 0),
        stalls=10,
        restriction="none",
    )
    zhou = _register(demo, event, "zhouxin", "stall", bring=("furniture", "furniture"))
    chen = _register(demo, event, "chenjing", "stall", bring=("baby", "other"))
    yang = _register(demo, event, "liuyang", "visitor")
    offer = _offer(
        demo,
        event,
        "chenjing",
        events.attached(demo.users["zhouxin"], event)[0],
        [next(listing for listing in events.attached(demo.users["chenjing"], event) if listing.category == "baby")],
        "孩子大了用不上了，换你的家具放客厅。",
    )
    swaps.accept(demo.users["zhouxin"], offer)
    _into_past(event, ahead, [offer])
    _check_in(event, demo.users["org_jinfeng"], [zhou, chen, yang])
    _settle(event)
    return event


def _nxu_upcoming(demo: _Demo) -> Event:
    """宁夏大学 in five days, its verified students only: 林同学's stall and an offer to answer."""
    event = _create(
        demo,
        "org_nxu",
        title="宁夏大学毕业季跳蚤市场",
        kind="campus_flea",
        description="毕业生清宿舍专场：教材、衣物、自行车、台灯。仅限已认证的宁夏大学学生报名。",
        venue="宁夏大学贺兰山校区 学生活动中心前",
        district="xixia",
        starts_at=demo.at(5, 15, 0),
        ends_at=demo.at(5, 18, 0),
        registration_deadline=demo.at(4, 22, 0),
        stalls=20,
        restriction="campus",
        campus="nxu",
    )
    user = demo.users["nxu_lin"]
    events.register(user, event.id, "stall")
    lamp = demo.new_item("nxu_lin", "other")
    mine = [demo.new_item("nxu_lin", "books"), demo.new_item("nxu_lin", "clothing"), lamp]
    events.attach(user, event, [listing.id for listing in mine])
    _register(demo, event, "nxu_he", "stall", bring=("books", "books", "clothing"))
    books = [listing for listing in events.attached(demo.users["nxu_he"], event) if listing.category == "books"]
    _offer(demo, event, "nxu_he", lamp, books[:1], "我拿这本书换你的台灯，可以吗？")
    return event


def _nmu_upcoming(demo: _Demo) -> Event:
    """北方民族大学 in twelve days: every stall taken, one stallholder waiting, visitors."""
    event = _create(
        demo,
        "org_nmu",
        title="民大周末换物集市",
        kind="campus_flea",
        description="小规模的换物集市，摊位有限，报满后进入候补名单，有人取消时按报名先后递补。",
        venue="北方民族大学 西门体育馆广场",
        district="xixia",
        starts_at=demo.at(12, 14, 0),
        ends_at=demo.at(12, 17, 0),
        registration_deadline=demo.at(11, 20, 0),
        stalls=3,
        restriction="none",
        campus="nmu",
    )
    _register(demo, event, "nmu_bai", "stall", bring=("clothing", "furniture"))
    _register(demo, event, "nmu_ma", "stall", bring=("clothing", "books"))
    _register(demo, event, "zhouxin", "stall", bring=("furniture",))
    _register(demo, event, "chenjing", "stall")  # waitlisted
    _register(demo, event, "nxu_he", "visitor")
    _register(demo, event, "liuyang", "visitor")
    return event


def _jinfeng_swap(demo: _Demo) -> Event:
    """A community swap in 金凤区 in nine days, for the district's residents only."""
    event = _create(
        demo,
        "org_jinfeng",
        title="金凤区社区换物角",
        kind="community_swap",
        description="仅限户籍在金凤区的居民报名。带来的物品请提前清洁，电器请带上说明书。",
        venue="金凤区 万寿路社区服务中心一楼",
        district="jinfeng",
        starts_at=demo.at(9, 9, 30),
        ends_at=demo.at(9, 12, 0),
        registration_deadline=demo.at(8, 20, 0),
        stalls=12,
        restriction="district",
    )
    _register(demo, event, "wangfang", "stall", bring=("phone", "appliance"))
    _register(demo, event, "huanbao_shop", "stall", bring=("furniture", "clothing"))
    _offer(
        demo,
        event,
        "huanbao_shop",
        events.attached(demo.users["wangfang"], event)[-1],
        [_one(demo, event, "huanbao_shop", "furniture")],
        "用这件家具换你的小家电，现场看货。",
    )
    return event


def _book_share(demo: _Demo) -> Event:
    """A book-sharing day in eight days, open to all."""
    event = _create(
        demo,
        "org_nmu",
        title="旧书分享日：教材接力",
        kind="book_share",
        description="毕业生把教材和课外书留给学弟学妹，居民也可以带家里的旧书来交换。",
        venue="西夏区图书馆 一楼大厅",
        district="xixia",
        starts_at=demo.at(8, 9, 30),
        ends_at=demo.at(8, 12, 0),
        registration_deadline=demo.at(7, 20, 0),
        stalls=10,
        restriction="none",
    )
    _register(demo, event, "nxu_he", "stall", bring=("books", "books"))
    _register(demo, event, "nmu_bai", "stall", bring=("books",))
    _register(demo, event, "nmu_ma", "visitor")
    _register(demo, event, "chenjing", "visitor")
    return event


def seed_events(rng: random.Random, users: dict[str, User]) -> Summary:
    """Create the demo events (past ones settled); returns what seed-demo prints."""
    demo = _Demo(rng, users)
    _nxu_past(demo)
    _nmu_past(demo)
    _xingqing_swap(demo)
    upcoming = _nxu_upcoming(demo)
    _nmu_upcoming(demo)
    _jinfeng_swap(demo)
    _book_share(demo)
    db.session.flush()

    now = utcnow()
    ends = db.session.scalars(sa.select(Event.ends_at)).all()
    when = {"past": sum(1 for end in ends if end <= now), "upcoming": sum(1 for end in ends if end > now)}

    def by(column) -> dict[str, int]:
        return dict(db.session.execute(sa.select(column, sa.func.count()).group_by(column)).all())

    summary = Summary(
        counts={
            "events": when,
            "registrations": by(Registration.status),
            "swap offers": by(SwapOffer.status),
            "no-shows": {"settled": db.session.scalar(sa.select(sa.func.count()).where(Registration.no_show))},
        }
    )
    summary.hints = [
        f"     org_nxu at /events/{upcoming.id}/console (宁夏大学's students only: residents are refused, told why);",
        "     nxu_lin has a stall with a QR code and a swap offer to answer at /me/events; liuyang's no-show appeal "
        "waits for org_nmu.",
    ]
    return summary
