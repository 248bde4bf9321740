"""The load test's world, plan and reading of wrk's results (tests/reliability/test_load.py, load.lua).

`build_world` seeds a live database: the demo city, verified sellers with listings to order,
verified buyers with API tokens, and completed orders whose two parties have yet to rate each
other. `write_plan` turns it into the tab-separated plan load.lua reads in every wrk thread:
what to browse and search, and which (buyer, listing) orders and (rater, order) ratings to send.
`run_wrk` runs wrk with one connection per thread, so that each thread's answers come in the
order of its requests, and reads what load.lua wrote: wrk's totals and latency percentiles, and
each thread's record of every request sent and every answer (status, time, and the body of an
acknowledged write), from which it counts statuses by request type and finds the requests left
unanswered. `check_writes` compares the acknowledged writes with the rows the database holds.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock
from urllib.parse import quote, urlencode

import sqlalchemy as sa

from tests.reliability.server import make_users

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "load.lua"
KINDS = ("browse", "search", "order", "rate")
# What each kind of request may answer. Orders: 409 when the listing is sold or the buyer has asked
# for it already (the plan wraps round when a thread has sent its share); ratings: 409 the second time.
ALLOWED = {"browse": {200}, "search": {200}, "order": {201, 409}, "rate": {201, 409}}
DEFAULT_SECONDS = 10
MAX_SECONDS = 60  # the issue: "60 seconds at most"

# Listings the load sellers publish (category, title, description, yuan); phones are graded A.
GOODS = [
    ("books", "高等数学 第七版 同济 教材 上下册", "考研用过，有少量笔记，无缺页。", 25),
    ("books", "三体 全集 精装 典藏版", "只看过一遍，书角完好。", 60),
    ("bicycles", "捷安特 ATX 777 山地自行车", "骑了两年，刹车和变速刚保养过。", 900),
    ("bicycles", "美利达 公路自行车 勇士 500", "车架无磕碰，轮胎九成新。", 1300),
    ("furniture", "宜家 书桌 白色 120cm", "搬家出，桌面有一点划痕。", 150),
    ("furniture", "实木 衣柜 两门", "自提，需要自己拆装。", 400),
    ("clothing", "优衣库 羽绒服 L码 黑色", "穿过一个冬天，干洗过。", 180),
    ("baby", "好孩子 婴儿推车 可平躺", "孩子大了用不上，功能完好。", 260),
    ("other", "罗技 无线鼠标 M720", "双模连接，电池刚换。", 99),
    ("phone", "华为 Mate 60 手机 256GB 雅丹黑", "自用一年，一直带壳贴膜。", 3299),
]
WEB_SEARCHES = [
    {"q": "手机"},
    {"q": "自行车"},
    {"q": "教材"},
    {"q": "华为 Mate"},
    {"q": "冰箱", "category": "appliance", "district": "jinfeng", "min_price": "500", "max_price": "3000"},
    {"q": "书桌", "sort": "price_asc"},
    {"category": "phone", "grade": "A"},
    {"category": "bicycles", "sort": "price_desc"},
    {"district": "xingqing", "sort": "newest"},
    {"q": "没有这种东西"},
]
API_SEARCHES = [
    {"q": "手机"},
    {"q": "羽绒服", "category": "clothing"},
    {"q": "自行车", "min_price_fen": "50000", "max_price_fen": "150000", "sort": "price_asc"},
    {"category": "books", "sort": "newest", "limit": "50"},
    {"district": "xixia", "sort": "price_desc", "limit": "10"},
    {"q": "鼠标 无线"},
]


def load_seconds() -> int:
    """RELIABILITY_LOAD_SECONDS (default 10), at most 60."""
    raw = os.environ.get("RELIABILITY_LOAD_SECONDS", "").strip()
    seconds = int(raw) if raw else DEFAULT_SECONDS
    return max(1, min(seconds, MAX_SECONDS))


@dataclass
class World:
    browse: list[str]
    search: list[str]
    orders: list[dict]  # {"buyer", "token", "listing"}
    ratings: list[dict]  # {"rater", "token", "order", "role"}
    before: dict[str, int]  # the highest order and rating ids before the run
    counts: dict[str, int] = field(default_factory=dict)


def _cheap_hash(password: str) -> str:
    from werkzeug.security import generate_password_hash

    return generate_password_hash(password, method="scrypt:1024:8:1")


def publish(sellers, count: int) -> list[int]:
    """`count` committed listings, round the sellers: every category, a few phones graded A."""
    from marketplace.db import db
    from marketplace.listings import service
    from tests.listings.sellers import phone_answers

    districts = ("xingqing", "jinfeng", "xixia", "yongning", "helan")
    ids = []
    for n in range(count):
        category, title, description, yuan = GOODS[n % len(GOODS)]
        data = service.ListingInput(
            title=f"{title} {n}",
            description=description,
            category=category,
            price_fen=(yuan + n % 7) * 100,
            district=districts[n % len(districts)],
            grading=phone_answers() if category == "phone" else None,
        )
        ids.append(service.create(sellers[n % len(sellers)], data).id)
    db.session.commit()
    return ids


def build_world(app, seconds: int, *, seed: int = 7) -> World:
    """Seed the demo city, the load's sellers, buyers, listings and completed orders; the plan's targets."""
    from marketplace.accounts.models import User
    from marketplace.db import db
    from marketplace.listings.models import Listing
    from marketplace.orders import service as orders
    from marketplace.orders.models import Order
    from marketplace.ratings.models import Rating
    from marketplace.seed import seed_demo

    rng = random.Random(seed)  # a reproducible plan
    # The demo users' passwords at the factories' small scrypt cost (nobody logs in with them
    # here): at the production cost the demo's thirty-odd hashes take a minute on a busy machine.
    with app.app_context(), mock.patch("marketplace.accounts.service.hash_password", _cheap_hash):
        seed_demo(echo=lambda _line: None)
    sellers = make_users(app, 4, prefix="load_seller_", verified=True)
    buyers = make_users(app, 24, prefix="load_buyer_", verified=True)
    # Enough of everything that the writes mostly succeed however fast the machine is: listings
    # to order × buyers far above the orders sent, two ratings per completed order.
    to_order, to_rate = 40 + seconds, 4 * seconds
    with app.app_context():
        seller_rows = [db.session.get(User, s["id"]) for s in sellers]
        buyer_rows = [db.session.get(User, b["id"]) for b in buyers]
        open_ids = publish(seller_rows, to_order)
        rated_ids = publish(seller_rows[::-1], to_rate)
        completed = []
        for n, listing_id in enumerate(rated_ids):
            buyer = buyer_rows[n % len(buyer_rows)]
            order = orders.request(buyer, listing_id, "周末可以当面交易吗？")
            orders.accept(order.seller, order)
            orders.complete(buyer, order)
            db.session.commit()
            completed.append((order.id, order.buyer_id, order.seller_id))

        demo_listings = db.session.scalars(
            sa.select(Listing.id)
            .join(User, User.id == Listing.seller_id)
            .where(Listing.status == "active", ~User.username.startswith("load_"))
            .order_by(Listing.id)
        ).all()
        demo_users = db.session.scalars(
            sa.select(User.id).where(User.status == "active", ~User.username.startswith("load_")).order_by(User.id)
        ).all()
        before = {
            "order": db.session.scalar(sa.select(sa.func.max(Order.id))) or 0,
            "rating": db.session.scalar(sa.select(sa.func.max(Rating.id))) or 0,
        }
        counts = {
            "listings": db.session.scalar(sa.select(sa.func.count()).select_from(Listing)),
            "users": db.session.scalar(sa.select(sa.func.count()).select_from(User)),
            "orders": db.session.scalar(sa.select(sa.func.count()).select_from(Order)),
        }
        db.session.remove()

    listing_pages = demo_listings[:12] + rng.sample(open_ids, 12) + rng.sample(rated_ids, 4)
    profiles = demo_users[:12] + [s["id"] for s in sellers] + [b["id"] for b in buyers[:4]]
    browse = ["/", "/", "/", "/red", "/black", "/events", "/standards", "/api/v1/trust/red", "/api/v1/trust/black"]
    browse += [f"/listings/{i}" for i in listing_pages] + [f"/api/v1/listings/{i}" for i in listing_pages[::3]]
    browse += [f"/users/{i}" for i in profiles] + [f"/api/v1/users/{i}" for i in profiles[::2]]
    browse += [f"/api/v1/users/{s['id']}/ratings" for s in sellers]
    search = [f"/search?{urlencode(q, quote_via=quote)}" for q in WEB_SEARCHES]
    search += [f"/api/v1/listings?{urlencode(q, quote_via=quote)}" for q in API_SEARCHES]
    search += [f"/search?seller={s['id']}" for s in sellers]

    by_id = {b["id"]: b for b in buyers} | {s["id"]: s for s in sellers}
    # Every (buyer, open listing) pair once, shuffled; one order in twenty for a listing sold already.
    pairs = [{"buyer": b["id"], "token": b["token"], "listing": i} for b in buyers for i in open_ids]
    rng.shuffle(pairs)
    sold = [
        {"buyer": b["id"], "token": b["token"], "listing": rng.choice(rated_ids)} for b in rng.choices(buyers, k=100)
    ]
    plan_orders = []
    for n, pair in enumerate(pairs):
        plan_orders.append(pair)
        if n % 19 == 18 and sold:
            plan_orders.append(sold.pop())
    ratings = []
    for order_id, buyer_id, seller_id in completed:
        ratings.append({"rater": buyer_id, "token": by_id[buyer_id]["token"], "order": order_id, "role": "buyer"})
        ratings.append({"rater": seller_id, "token": by_id[seller_id]["token"], "order": order_id, "role": "seller"})
    rng.shuffle(ratings)
    return World(browse, search, plan_orders, ratings, before, counts)


def write_plan(world: World, path: Path) -> Path:
    """The plan as load.lua reads it: one tab-separated line per path, order or rating."""
    lines = [f"browse\t{p}" for p in world.browse] + [f"search\t{p}" for p in world.search]
    lines += [f"order\t{o['buyer']}\t{o['token']}\t{o['listing']}" for o in world.orders]
    lines += [f"rate\t{r['rater']}\t{r['token']}\t{r['order']}\t{r['role']}" for r in world.ratings]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class Run:
    seconds: float
    threads: int
    summary: dict
    latency: dict  # wrk's, microseconds
    counts: dict[str, Counter]  # kind → status → count
    samples: dict[str, list[int]]  # kind → latencies in microseconds (load.lua's own clock)
    acks: list[dict]  # acknowledged writes: {"kind", "who", "target", "path", "status", "body"}
    pending: list[dict]  # requests on the wire when wrk stopped: {"kind", "who", "target", "path"}
    lost: list[dict]  # requests never answered while the run went on (the connection dropped)
    odd: list[str]  # the first hundred answers outside ALLOWED: "kind status path"


def run_wrk(wrk: str, url: str, plan: Path, out: Path, seconds: int, threads: int) -> Run:
    """wrk -t threads -c threads (one connection each) for `seconds` with load.lua; what it recorded."""
    env = os.environ | {"LOAD_PLAN": str(plan), "LOAD_OUT": str(out), "LOAD_THREADS": str(threads)}
    cmd = [wrk, f"-t{threads}", f"-c{threads}", f"-d{seconds}s", "--timeout", "30s", "-s", str(SCRIPT), url]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 120)
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    summary, latency = {}, {}
    for line in out.read_text(encoding="utf-8").splitlines():
        tag, *values = line.split("\t")
        if tag == "summary":
            keys = ("requests", "duration_us", "connect", "read", "write", "status", "timeout", "bytes")
            summary = dict(zip(keys, map(int, values), strict=True))
        elif tag == "latency":
            keys = ("p50", "p90", "p99", "p999", "max", "mean")
            latency = dict(zip(keys, map(float, values), strict=True))
    run = Run(seconds, threads, summary, latency, {}, {}, [], [], [], [])
    for n in range(1, threads + 1):
        read_thread(Path(f"{out}.{n}"), run)
    return run


def read_thread(path: Path, run: Run) -> None:
    """One thread's "sent" and "answer" lines, into the run's counts, latencies, writes and unanswered."""
    sent: dict[int, dict] = {}
    answered: set[int] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        tag, number, kind, *rest = line.split("\t", 5)
        if tag == "sent":
            who, target, request_path = rest
            sent[int(number)] = {"kind": kind, "who": int(who or 0), "target": int(target or 0), "path": request_path}
            continue
        request = sent[int(number)]
        answered.add(int(number))
        status, elapsed = int(rest[0]), int(float(rest[1]))
        run.counts.setdefault(kind, Counter())[status] += 1
        if elapsed >= 0:  # -1: no clock in wrk's Lua
            run.samples.setdefault(kind, []).append(elapsed)
        if len(rest) > 2:
            run.acks.append({**request, "status": status, "body": rest[2]})
        if status not in ALLOWED[kind] and len(run.odd) < 100:
            run.odd.append(f"{kind} {status} {request['path']}")
    unanswered = sorted(set(sent) - answered)
    # Only the request wrk had on the wire when the time was up may go unanswered.
    if unanswered and unanswered[-1] == max(sent):
        run.pending.append(sent[unanswered.pop()])
    run.lost += [sent[n] for n in unanswered]


def percentile(values: list[int], p: float) -> float:
    """The nearest-rank percentile of `values` (microseconds), in milliseconds."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return round(ordered[int(rank) - 1] / 1000, 1)


def check_writes(app, run: Run, before: dict[str, int]) -> tuple[dict, list[str]]:
    """Every acknowledged order and rating in the database as acknowledged; rows created = acks (+ unanswered)."""
    from marketplace.db import db
    from marketplace.orders.models import Order
    from marketplace.ratings.models import Rating

    failures: list[str] = []
    acked: dict[str, dict[int, dict]] = {"order": {}, "rate": {}}
    for ack in run.acks:
        try:
            body = json.loads(ack["body"])
        except ValueError:
            failures.append(f"{ack['kind']} acknowledged with {ack['status']} and a body that is not JSON")
            continue
        if ack["kind"] == "order":
            got = (body.get("buyer", {}).get("id"), body.get("listing", {}).get("id"), body.get("status"))
            if got != (ack["who"], ack["target"], "requested"):
                failures.append(f"order acknowledged as {got} for buyer {ack['who']}, listing {ack['target']}")
        else:
            if body.get("order_id") != ack["target"]:
                failures.append(f"rating acknowledged on order {body.get('order_id')}, sent for {ack['target']}")
        if body.get("id") in acked[ack["kind"]]:
            failures.append(f"{ack['kind']} id {body.get('id')} acknowledged twice")
        acked[ack["kind"]][body.get("id")] = ack

    with app.app_context():
        orders = {
            row.id: row
            for row in db.session.execute(
                sa.select(Order.id, Order.buyer_id, Order.listing_id, Order.status).where(Order.id > before["order"])
            )
        }
        ratings = {
            row.id: row
            for row in db.session.execute(
                sa.select(Rating.id, Rating.order_id, Rating.rater_id).where(Rating.id > before["rating"])
            )
        }
        db.session.remove()

    unanswered = run.pending + run.lost
    checked = (("order", orders, ("buyer_id", "listing_id")), ("rate", ratings, ("rater_id", "order_id")))
    for kind, rows, columns in checked:
        for row_id, ack in acked[kind].items():
            row = rows.get(row_id)
            if row is None:
                failures.append(f"LOST WRITE: {kind} {row_id} acknowledged (201) but not in the database")
            elif (getattr(row, columns[0]), getattr(row, columns[1])) != (ack["who"], ack["target"]):
                failures.append(f"{kind} {row_id} in the database is {tuple(row)}, acknowledged for {ack}")
        # A row nobody acknowledged: only a request still unanswered when wrk stopped may have made it.
        for row_id, row in rows.items():
            if row_id in acked[kind]:
                continue
            key = (getattr(row, columns[0]), getattr(row, columns[1]))
            if not any(u["kind"] == kind and (u["who"], u["target"]) == key for u in unanswered):
                failures.append(f"{kind} {row_id} {tuple(row)} was created but never acknowledged")
    figures = {
        "orders_acked": len(acked["order"]),
        "orders_created": len(orders),
        "ratings_acked": len(acked["rate"]),
        "ratings_created": len(ratings),
        "unanswered_at_end": len(run.pending),
    }
    return figures, failures
