"""A small, populated marketplace for the hostile-input suite: one object of every kind a page shows.

Everything is made through the services (and the shared factories), as people would make it:
users in every role, verified sellers with real-looking ID and phone numbers, listings of the
graded categories and a plain one (with a photo), orders in every state with messages, ratings
with a reply and a fold, reports, decisions, an appeal, black-list entries proposed and confirmed
(two people), a red-list edition, events (a campus flea market, a community swap, a past one with
a no-show's appeal, a cancelled one) with stalls and a swap offer, credit adjustments, notices
and the audit log that all of this wrote.

Every text field a user types carries XSS payloads next to ordinary words. Each payload has a
marker of its own (``xss-07s``: field 07, kind ``s``), so a test finds which field broke out
and never confuses the app's own markup with user data. Usage, in a test module:

    from tests.security.world import *  # noqa: F403  (the `world` fixture and what it needs)
"""

from __future__ import annotations

import io
import itertools
import re
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.grading.answers import best_answers
from tests.identity.factories import make_id_number, make_phone
from tests.listings.sellers import jpeg_bytes, phone_answers
from tests.trust.factories import moderator, moderator2, qualify, supervisor, supervisor2

__all__ = ["moderator", "moderator2", "qualify", "supervisor", "supervisor2", "world"]

# The attacks, by kind; @M is replaced by the field's marker for that kind.
PAYLOADS = {
    "s": "<script>alert('@M')</script>",
    "i": "<img src=x onerror=alert('@M')>",
    "v": "\"><svg/onload=alert('@M')>",
    "j": "javascript:alert('@M')",
    "a": "<a href=\"javascript:alert('@M')\">@M</a>",
    "t": "</textarea><script>alert('@M')</script>",
    "p": "@M~{{7*7}}",
}
KIND_NAMES = {
    "s": "script tag",
    "i": "img onerror",
    "v": "attribute break-out + svg onload",
    "j": "javascript: URL",
    "a": "a href=javascript:",
    "t": "textarea break-out + script",
    "p": "template injection {{7*7}}",
}
MARKER = re.compile(r"xss-\d{2}[sivjatp]")
TEMPLATE_RESULT = re.compile(r"(xss-\d{2}p)~49")

# The roles a walk tries, besides the anonymous visitor (no user).
ROLES = (
    "resident",  # signed up, verification pending
    "seller",  # verified, sells
    "buyer",  # verified, buys
    "student",  # verified student, has a stall and a no-show appeal
    "penalised",  # a confirmed counterfeit, black-listed, appealing
    "moderator",
    "supervisor",
    "organiser",
    "inspector",
    "admin",
)


@dataclass
class World:
    """Who is who, the ids every route may take, the raw personal numbers used, the payload markers."""

    users: dict = field(default_factory=dict)  # role → User
    ids: dict[str, list] = field(default_factory=dict)  # URL argument → candidate values (first: the main one)
    id_numbers: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    markers: dict[str, str] = field(default_factory=dict)  # marker → "field (kind)"
    texts: dict[str, str] = field(default_factory=dict)  # field → the text typed

    def add(self, name: str, *values) -> None:
        bucket = self.ids.setdefault(name, [])
        bucket.extend(v for v in values if v not in bucket)


class _Typist:
    """Hostile text for each field: ordinary words, then as many payloads as the field's limit allows."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.numbers = itertools.count(1)

    def __call__(self, name: str, limit: int, words: str = "九成新 自用") -> str:
        n = next(self.numbers)
        assert n < 100, "two-digit markers"
        kinds = list(PAYLOADS)
        start = n % len(kinds)  # short fields take turns with the payload they carry first
        text = words
        for kind in kinds[start:] + kinds[:start]:
            marker = f"xss-{n:02d}{kind}"
            piece = " " + PAYLOADS[kind].replace("@M", marker)
            if len(text) + len(piece) <= limit:
                text += piece
                self.world.markers[marker] = f"{name} ({KIND_NAMES[kind]})"
        assert MARKER.search(text), f"{name}: no payload fits in {limit} characters"
        self.world.texts[name] = text
        return text


def raw_identities(db) -> tuple[set[str], set[str]]:
    """Every ID number and phone number stored (decrypted): what must never appear in plain anywhere."""
    from marketplace.identity.crypto import crypto
    from marketplace.identity.models import IdentityVerification

    ids, phones = set(), set()
    box = crypto()
    for id_enc, phone_enc in db.session.execute(
        sa.select(IdentityVerification.id_number_enc, IdentityVerification.phone_enc)
    ):
        if id_enc:
            ids.add(box.decrypt(id_enc))
        if phone_enc:
            phones.add(box.decrypt(phone_enc))
    return ids, phones


@pytest.fixture
def world(db, make_user, verified_user, qualify, supervisor, supervisor2, moderator, moderator2):
    """Build the populated marketplace (a fresh database per test, so once per test) and return its World."""
    from werkzeug.datastructures import FileStorage

    from marketplace.accounts import service as accounts
    from marketplace.credit import service as credit
    from marketplace.events import service as events
    from marketplace.events import settlement, swaps
    from marketplace.events.models import Event, Registration
    from marketplace.identity import service as identity
    from marketplace.identity.verifiers import QueueVerifier
    from marketplace.listings import photos
    from marketplace.listings import service as listings
    from marketplace.moderation import appeals, certification, decisions
    from marketplace.moderation import service as moderation
    from marketplace.orders import messages
    from marketplace.orders import service as orders
    from marketplace.ratings import service as ratings
    from marketplace.trust import redlist
    from marketplace.trust import service as trust

    w = World()
    typed = _Typist(w)
    commit = db.session.commit

    def person(username: str, roles=("resident",), **identity_fields):
        """A verified user with known raw numbers and a hostile display name."""
        number, phone = make_id_number(), make_phone()
        user = verified_user(username, roles=roles, id_number=number, phone=phone, **identity_fields)
        user.display_name = typed(f"display name of {username}", 40, "昵")
        commit()
        return user

    # --- people ---------------------------------------------------------------------------------
    seller = person("w_seller", real_name="张小三")
    buyer = person("w_buyer", real_name="李四")
    student = person("w_student", kind="student", campus="nxu", student_no="20230101", real_name="王同学")
    organiser = person(
        "w_organiser", roles=("organiser",), kind="student", campus="nxu", student_no="20230102", real_name="赵组织"
    )
    penalised = person("w_fake", real_name="钱假货")
    proposed = person("w_fake2", real_name="孙可疑")
    inspector = person("w_inspector", roles=("inspector",), real_name="吴验")
    redstar = person("w_redstar", real_name="郑诚信")
    admin = make_user("w_admin", roles=("admin",), display_name=typed("display name of admin", 40, "管"))
    for staff in (moderator, moderator2, supervisor, supervisor2):
        staff.display_name = typed(f"display name of {staff.username}", 40, "审")
    commit()

    # Signed up through the service (the real register path), verification pending.
    resident = accounts.register("w_resident", "Lvse-Xunhuan-2026", typed("display name at register", 40, "新"))
    commit()
    resident.password_hash = admin.password_hash  # the suite's cheap hash, so logging in costs little
    pending_number, pending_phone = make_id_number(), make_phone()
    pending = identity.submit(
        resident,
        identity.VerificationInput(real_name="陈待审", id_number=pending_number, phone=pending_phone, kind="resident"),
        verifier=QueueVerifier(),
    )
    commit()
    # Another applicant, turned down with a reason the moderator typed.
    refused_user = make_user("w_refused", display_name=typed("display name of refused", 40, "拒"))
    refused = identity.submit(
        refused_user,
        identity.VerificationInput(real_name="周被拒", id_number=make_id_number(), phone=make_phone(), kind="resident"),
        verifier=QueueVerifier(),
    )
    commit()
    identity.reject(moderator, refused.id, typed("verification rejection reason", 200, "照片不清楚"))
    accounts.grant_role(admin, refused_user, "inspector")  # a role change, for the audit log
    commit()

    # --- listings: every graded category and a plain one, with hostile free text -------------------
    def listing(user, category, grading=None, price_fen=329900, **extra):
        data = listings.ListingInput(
            title=typed(f"{category} listing title", 80, "二手"),
            description=typed(f"{category} listing description", 5000, "描述：自用，功能正常。\n\n"),
            category=category,
            price_fen=price_fen,
            district="xingqing",
            grading=grading,
            **extra,
        )
        made = listings.create(user, data)
        commit()
        return made

    phone_listing = listing(seller, "phone", phone_answers(model=typed("phone model answer", 60, "华为")))
    appliance_answers = best_answers("appliance")
    appliance_answers.update(
        brand=typed("appliance brand answer", 40, "海尔"),
        replaced_parts=typed("appliance replaced parts", 200, "无"),
    )
    appliance = listing(seller, "appliance", appliance_answers, price_fen=120000)
    vehicle = listing(seller, "vehicle", best_answers("vehicle"), price_fen=5600000)
    other = listing(seller, "other", None, price_fen=3500)
    books = listing(seller, "books", None, price_fen=2000)
    upload = FileStorage(io.BytesIO(jpeg_bytes()), filename="photo.jpg", content_type="image/jpeg")
    photos.add_photos(seller, vehicle, [photos.prepare(upload)])
    commit()
    photo = vehicle.photos[0]

    # The inspector certifies the phone as declared (no report opened).
    certification.certify(inspector, phone_listing.id, certification.declared_answers(phone_listing))
    commit()

    # --- orders in every state, with messages -----------------------------------------------------
    completed = orders.request(buyer, phone_listing.id, typed("order request message", 500, "周末可以当面交易吗"))
    commit()
    orders.accept(seller, completed)
    commit()
    messages.post(buyer, completed, typed("order message from buyer", 1000, "我到了"))
    messages.post(seller, completed, typed("order message from seller", 1000, "马上下楼"))
    commit()
    orders.complete(buyer, completed)
    commit()
    by_buyer = ratings.rate(
        buyer, completed, {"accuracy": 5, "communication": 5, "punctuality": 4}, typed("rating comment (buyer)", 500)
    )
    commit()
    by_seller = ratings.rate(seller, completed, {"communication": 5, "punctuality": 5}, typed("rating comment", 500))
    commit()
    ratings.reply(seller, by_buyer, typed("rating reply", 500, "谢谢"))
    commit()
    ratings.fold(moderator, by_seller, typed("rating fold reason", 200, "含人身攻击"))
    commit()

    accepted = orders.request(buyer, appliance.id, typed("order request (accepted)", 500))
    commit()
    orders.accept(seller, accepted)
    commit()

    cancelled = orders.request(buyer, vehicle.id, typed("order request (cancelled)", 500))
    commit()
    orders.cancel(buyer, cancelled, typed("order cancel reason", 500, "不需要了"))
    commit()
    requested = orders.request(student, vehicle.id, typed("order request (open)", 500))
    commit()

    disputed = orders.request(buyer, other.id, typed("order request (disputed)", 500))
    commit()
    orders.accept(seller, disputed)
    commit()
    messages.post(buyer, disputed, typed("order message (disputed)", 1000, "东西不对"))
    orders.dispute(buyer, disputed, typed("order dispute reason", 500, "与描述不符"))
    commit()

    # --- reports, decisions, an appeal, the black list (proposed and confirmed) ----------------------
    open_report = moderation.report_listing(buyer, books.id, "hidden_defect", typed("report detail", 1000, "有划痕"))
    commit()
    fake = listing(penalised, "phone", phone_answers(), price_fen=99900)
    report = moderation.report_listing(buyer, fake.id, "counterfeit", typed("report detail (counterfeit)", 1000))
    commit()
    decision = decisions.decide(moderator, report.id, "confirmed", "counterfeit", typed("decision note", 1000, "高仿"))
    commit()
    confirmed_entry = decision.blacklist_entry
    trust.confirm(supervisor, confirmed_entry.id, typed("black-list confirmation note", 500, "证据确凿"))
    commit()
    appeal = appeals.file(penalised, decision.id, typed("appeal reason", 1000, "这是正品，有发票可以证明"))
    commit()

    fake2 = listing(proposed, "other", None, price_fen=5000)
    report2 = moderation.report_listing(student, fake2.id, "counterfeit", typed("report detail (second)", 1000))
    commit()
    decision2 = decisions.decide(moderator2, report2.id, "confirmed", "counterfeit", typed("decision note (2)", 1000))
    commit()
    pending_entry = decision2.blacklist_entry

    # --- credit and the red list ----------------------------------------------------------------
    credit.adjust(supervisor, seller, 10, typed("credit adjustment reason", 200, "补录好评"))
    commit()
    qualify(redstar)
    redlist.compute_edition(actor=supervisor, force=True)
    commit()

    # --- events ---------------------------------------------------------------------------------
    from marketplace.db import utcnow

    def event_input(kind, starts_in=timedelta(days=3), **overrides):
        starts = (utcnow() + starts_in).replace(microsecond=0)
        values = {
            "title": typed(f"{kind} event title", 80, "活动"),
            "kind": kind,
            "description": typed(f"{kind} event description", 4000, "带上闲置，换点用得上的。"),
            "venue": typed(f"{kind} event venue", 120, "东门广场"),
            "district": "xixia",
            "starts_at": starts,
            "ends_at": starts + timedelta(hours=4),
            "registration_deadline": starts - timedelta(days=1),
            "stalls": 5,
            "restriction": "campus" if kind == "campus_flea" else "none",
            "campus": "nxu" if kind == "campus_flea" else None,
        }
        values.update(overrides)
        made = events.create(organiser, events.EventInput(**values))
        commit()
        return made

    flea = event_input("campus_flea")
    stall = events.register(student, flea.id, "stall")
    commit()
    stall_item = listing(student, "books", None, price_fen=1500)
    events.attach(student, flea, [stall_item.id])
    commit()

    swap_event = event_input("community_swap")
    for who in (seller, buyer):
        events.register(who, swap_event.id, "stall")
    commit()
    wanted = listing(seller, "other", None, price_fen=800)
    offered = listing(buyer, "other", None, price_fen=700)
    events.attach(seller, swap_event, [wanted.id])
    events.attach(buyer, swap_event, [offered.id])
    commit()
    offer = swaps.make_offer(buyer, swap_event, wanted.id, [offered.id], typed("swap offer message", 500, "换吗"))
    commit()

    # A past event: the student never came, the buyer checked in; the student appeals the no-show.
    past = event_input("book_share", restriction="none", campus=None)
    no_show = events.register(student, past.id, "stall")
    came = events.register(buyer, past.id, "stall")
    commit()
    ends = utcnow().replace(microsecond=0) - timedelta(hours=3)
    db.session.execute(
        sa.update(Event)
        .where(Event.id == past.id)
        .values(starts_at=ends - timedelta(hours=4), ends_at=ends, registration_deadline=ends - timedelta(days=1))
    )
    db.session.execute(
        sa.update(Registration).where(Registration.event_id == past.id).values(created_at=ends - timedelta(days=2))
    )
    commit()
    db.session.expire_all()
    events.check_in(organiser, past, came.checkin_code, now=past.starts_at + timedelta(minutes=5))
    settlement.settle(past, now=past.ends_at + timedelta(hours=2, minutes=30))
    commit()
    settlement.appeal(student, no_show, typed("no-show appeal reason", 2000, "那天生病了，去了医院"))
    commit()

    dropped = event_input("community_swap", starts_in=timedelta(days=5))
    events.cancel(organiser, dropped, typed("event cancel reason", 500, "场地临时不能用"))
    commit()

    # --- what the walks need --------------------------------------------------------------------
    w.users = {
        "resident": resident,
        "seller": seller,
        "buyer": buyer,
        "student": student,
        "penalised": penalised,
        "moderator": moderator,
        "supervisor": supervisor2,  # not the one who confirmed: may still act on the pending entry
        "organiser": organiser,
        "inspector": inspector,
        "admin": admin,
    }
    # Users whose pages differ: verified with ratings, black-listed, pending, red-listed, proposed, a student.
    w.add("user_id", seller.id, penalised.id, resident.id, redstar.id, proposed.id, student.id)
    w.add("listing_id", vehicle.id, books.id, phone_listing.id, appliance.id, other.id, fake.id, stall_item.id)
    w.add("photo_id", photo.id)
    w.add("name", photo.stem)
    w.add("order_id", requested.id, completed.id, accepted.id, disputed.id, cancelled.id)
    w.add("rating_id", by_buyer.id, by_seller.id)
    w.add("report_id", open_report.id, report.id, report2.id)
    w.add("decision_id", decision.id, decision2.id)
    w.add("appeal_id", appeal.id)
    w.add("entry_id", pending_entry.id, confirmed_entry.id)
    w.add("event_id", flea.id, swap_event.id, past.id, dropped.id)
    w.add("registration_id", stall.id, no_show.id, came.id)
    w.add("offer_id", offer.id)
    w.add("request_id", pending.id, refused.id)
    w.add("verification_id", pending.id)
    w.add("notice_id", *_notice_ids(db, seller, buyer))
    ids, phones = raw_identities(db)
    w.id_numbers, w.phones = sorted(ids), sorted(phones)
    assert pending_number in w.id_numbers and pending_phone in w.phones
    return w


def _notice_ids(db, *users) -> list[int]:
    from marketplace.notices.models import Notice

    rows = db.session.scalars(
        sa.select(Notice.id).where(Notice.user_id.in_([u.id for u in users])).order_by(Notice.id).limit(2)
    )
    return list(rows)


# --- walking every route ----------------------------------------------------------------------------

# GET routes the walks do not request, and why. Anything else must be fillable from the world.
SKIP = {
    "static": "the app's own CSS, JavaScript and icons: no data of anyone's in them",
}
# Values for URL arguments that are not ids of the world's objects.
FIXED = {
    "category": ["phone", "appliance", "vehicle"],
    "fmt": ["csv", "json"],
    "role": ["resident", "inspector"],  # admin.revoke's confirmation: roles some of the world's users hold
}
# URLs per route: a page that only shows is tried with more of the world's objects than a form's first step.
MAX_URLS_SHOWN, MAX_URLS_FORM = 6, 2
# The roles that own or oversee the world's objects: they try every URL of a route, the others its first.
PARTIES = ("seller", "buyer", "student", "penalised", "moderator", "supervisor")


@dataclass
class Walk:
    """The URLs of every GET route, filled from the world; what was skipped and what could not be filled."""

    urls: list[tuple[str, str, bool]] = field(default_factory=list)  # (endpoint, path, the route's first URL)
    skipped: dict[str, str] = field(default_factory=dict)  # endpoint → reason
    unfillable: list[str] = field(default_factory=list)  # "endpoint <rule>: argument names"

    @property
    def endpoints(self) -> set[str]:
        return {endpoint for endpoint, _path, _first in self.urls}


def plan_walk(app, world: World) -> Walk:
    """Every GET rule of app.url_map with its arguments filled in from the world (several values each)."""
    from werkzeug.routing import AnyConverter

    walk = Walk()
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if "GET" not in rule.methods:
            continue
        if rule.endpoint in SKIP:
            walk.skipped[rule.endpoint] = SKIP[rule.endpoint]
            continue
        choices, missing = {}, []
        for name in sorted(rule.arguments):
            converter = rule._converters.get(name)
            if isinstance(converter, AnyConverter):
                choices[name] = sorted(converter.items)
            elif name in FIXED:
                choices[name] = FIXED[name]
            elif world.ids.get(name):
                choices[name] = world.ids[name]
            else:
                missing.append(name)
        if missing:
            walk.unfillable.append(f"{rule.endpoint} {rule.rule}: {', '.join(missing)}")
            continue
        # Diagonally through the candidates (every argument varies at once), the main objects first.
        cap = MAX_URLS_SHOWN if rule.methods <= {"GET", "HEAD", "OPTIONS"} else MAX_URLS_FORM
        count = min(cap, max((len(values) for values in choices.values()), default=1))
        for i in range(count):
            values = {name: options[i % len(options)] for name, options in choices.items()}
            _domain, path = rule.build(values, append_unknown=False)
            walk.urls.append((rule.endpoint, path, i == 0))
    return walk


class Visitors:
    """A browser session and an API token per role (and the anonymous visitor, role None)."""

    def __init__(self, app, world: World, login, token_for) -> None:
        self.app = app
        self.pages = {None: app.test_client()}
        self.tokens: dict = {None: {}}
        for role, user in world.users.items():
            self.pages[role] = login(user, app.test_client())
            self.tokens[role] = token_for(user)
        self.api = app.test_client()

    @property
    def roles(self) -> list:
        return list(self.pages)

    def roles_for(self, first: bool) -> list:
        """Every role tries a route's first URL; the parties and staff try its other objects too."""
        return self.roles if first else [None, *PARTIES]

    def get(self, role, path: str, **kwargs):
        """GET `path` as `role`: an API path with the role's bearer token, a page with its session."""
        if path.startswith("/api/"):
            return self.api.get(path, headers=self.tokens[role], **kwargs)
        return self.pages[role].get(path, **kwargs)


def who(role) -> str:
    return role or "anonymous"
