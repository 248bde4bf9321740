"""The demo city: districts, campuses, users in every role (verified and not) and their listings.

Later features add orders and ratings, then reports, decisions, black-list entries, appeals and a
red-list edition (marketplace/seed_trust.py), then flea markets and swap events
(marketplace/seed_events.py) to the same city. Passwords are
random and printed once; nothing personal here is real (ID numbers are generated
with valid check digits for Yinchuan's district codes, phone numbers are random).
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from marketplace.accounts import service as accounts
from marketplace.accounts.models import User
from marketplace.db import db
from marketplace.identity import service as identity
from marketplace.identity.places import REGION_CODES
from marketplace.identity.validators import resident_id_check_char
from marketplace.identity.verifiers import get_verifier


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    real_name: str
    district: str
    roles: tuple[str, ...] = ()
    state: str = "verified"  # verified / pending / rejected / unverified
    kind: str = "resident"
    campus: str | None = None


DEMO_USERS = (
    DemoUser("admin", "市集运营马", "马建国", "jinfeng", roles=("admin",)),
    DemoUser("mod_li", "审核员小李", "李晓燕", "xingqing", roles=("moderator",)),
    DemoUser("mod_zhao", "审核员老赵", "赵德明", "jinfeng", roles=("moderator",)),
    DemoUser("sup_ma", "市场监督员马", "马丽华", "xingqing", roles=("supervisor",)),
    DemoUser("sup_na", "监督员纳", "纳文斌", "xixia", roles=("supervisor",)),
    DemoUser("insp_wang", "王师傅验机", "王建军", "xingqing", roles=("inspector",)),
    DemoUser("insp_yang", "杨工家电检测", "杨立新", "jinfeng", roles=("inspector",)),
    DemoUser("org_nxu", "宁大跳蚤市场", "丁雨桐", "xixia", roles=("organiser",), kind="student", campus="nxu"),
    DemoUser("org_nmu", "民大换物社", "海梦瑶", "xixia", roles=("organiser",), kind="student", campus="nmu"),
    DemoUser("org_jinfeng", "金凤社区换物角", "苏红梅", "jinfeng", roles=("organiser",)),
    DemoUser("zhangwei", "张伟的闲置", "张伟", "xingqing"),
    DemoUser("wangfang", "芳芳二手", "王芳", "jinfeng"),
    DemoUser("liuyang", "刘阳数码", "刘阳", "xixia"),
    DemoUser("chenjing", "静静的小屋", "陈静", "yongning"),
    DemoUser("yangfan", "扬帆单车", "杨帆", "helan"),
    DemoUser("zhouxin", "周鑫家居", "周鑫", "lingwu"),
    DemoUser("mahui", "马慧", "马慧", "xingqing"),
    DemoUser("nxu_lin", "林同学", "林子涵", "xixia", kind="student", campus="nxu"),
    DemoUser("nxu_he", "何同学的书", "何雨欣", "xixia", kind="student", campus="nxu"),
    DemoUser("nmu_bai", "白同学", "白振宇", "xixia", kind="student", campus="nmu"),
    DemoUser("nmu_ma", "马同学", "马晓丽", "xixia", kind="student", campus="nmu"),
    DemoUser("huanbao_shop", "绿色循环回收店", "沙永福", "jinfeng", kind="business"),
    DemoUser("newbie", "新来的小王", "王小明", "jinfeng", state="unverified"),
    DemoUser("visitor_li", "李阿姨", "李桂兰", "yongning", state="unverified"),
    DemoUser("pending_sun", "孙先生", "孙立军", "helan", state="pending"),
    DemoUser("pending_nxu", "宁大新生", "吴思远", "xixia", state="pending", kind="student", campus="nxu"),
    DemoUser("rejected_gao", "高先生", "高峰", "lingwu", state="rejected"),
)


def fake_id_number(rng: random.Random, district: str) -> str:
    """A resident ID number with a valid birth date and check digit (not a real person's)."""
    year = rng.randint(1960, 2006)
    month = rng.randint(1, 12)
    day = rng.randint(1, 28)
    body = f"{REGION_CODES[district]}{year:04d}{month:02d}{day:02d}{rng.randint(0, 999):03d}"
    return body + resident_id_check_char(body)


def fake_mobile(rng: random.Random) -> str:
    """A random mainland mobile number."""
    return "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))


def fake_credit_code(rng: random.Random) -> str:
    """A unified social credit code with a valid check character."""
    from marketplace.identity.validators import is_valid_credit_code

    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    while True:
        body = "91640100" + "".join(rng.choice(alphabet) for _ in range(9))
        for check in alphabet:
            if is_valid_credit_code(body + check):
                return body + check


def seed_demo(*, if_empty: bool = False, echo: Callable[[str], None] = print, seed: int = 2026) -> dict[str, str]:
    """Create the demo users and their listings; returns {username: password} (also echoed once)."""
    if db.session.scalar(sa.select(sa.func.count()).select_from(User)):
        if if_empty:
            echo("seed-demo: the database already has users; nothing to do.")
            return {}
        if accounts.find_user("admin") is not None:
            raise SystemExit("seed-demo: the demo city is already here (user 'admin' exists).")
    rng = random.Random(seed)  # noqa: S311 - reproducible fake data, not a secret
    passwords: dict[str, str] = {}
    users: dict[str, User] = {}
    for demo in DEMO_USERS:
        password = "demo-" + secrets.token_urlsafe(9)
        user = accounts.register(demo.username, password, demo.display_name)
        for role in demo.roles:
            accounts.grant_role(None, user, role)
        passwords[demo.username] = password
        users[demo.username] = user

    deciders = [users["mod_li"], users["mod_zhao"]]
    # Moderators verify each other first, then everyone else.
    for demo in DEMO_USERS:
        if demo.state == "unverified":
            continue
        user = users[demo.username]
        request = identity.submit(
            user,
            identity.VerificationInput(
                real_name=demo.real_name,
                id_number=fake_id_number(rng, demo.district),
                phone=fake_mobile(rng),
                kind=demo.kind,
                campus=demo.campus,
                student_no=f"{rng.randint(2021, 2025)}{rng.randint(10000, 99999)}" if demo.kind == "student" else None,
                credit_code=fake_credit_code(rng) if demo.kind == "business" else None,
            ),
            # Demo decisions are made by the demo moderators, whatever verifier is configured.
            verifier=get_verifier("queue"),
        )
        decider = next(d for d in deciders if d.id != user.id)
        if demo.state == "verified":
            identity.approve(decider, request.id)
        elif demo.state == "rejected":
            identity.reject(decider, request.id, "身份证照片与填写的姓名不一致，请核对后重新提交。")
    db.session.commit()

    from marketplace.listings.demo import seed_listings

    # Ordinary verified residents, students and the recycling shop sell; staff and the unverified do not.
    sellers = [(users[d.username], d.district) for d in DEMO_USERS if d.state == "verified" and not d.roles]
    counts = seed_listings(sellers, rng)
    db.session.commit()

    from marketplace.orders.demo import seed_orders

    deals = seed_orders(users, rng)
    db.session.commit()

    from marketplace.seed_trust import seed_trust

    moderation = seed_trust(users)
    db.session.commit()

    from marketplace.seed_events import seed_events

    gatherings = seed_events(rng, users)
    db.session.commit()

    echo("Demo city created: 银川市 (兴庆区, 金凤区, 西夏区, 永宁县, 贺兰县, 灵武市; 宁夏大学, 北方民族大学).")
    echo("Demo accounts — these passwords are shown only this once:")
    width = max(len(name) for name in passwords)
    for demo in DEMO_USERS:
        roles = ",".join(demo.roles) or "resident"
        echo(f"  {demo.username:<{width}}  {passwords[demo.username]}  ({roles}; {demo.state})")
    echo("Listings: " + ", ".join(f"{category} {n}" for category, n in counts.items()))
    echo("Orders and ratings: " + ", ".join(f"{status} {n}" for status, n in sorted(deals.items())))
    for what, tally in moderation.items():
        echo(f"{what.capitalize()}: " + ", ".join(f"{status} {n}" for status, n in sorted(tally.items())))
    for what, tally in gatherings.counts.items():
        echo(f"{what.capitalize()}: " + ", ".join(f"{status} {n}" for status, n in sorted(tally.items())))
    echo("Try: mod_li or mod_zhao at /moderation/reports and /moderation/appeals (each decides the other's appeals);")
    echo("     sup_ma or sup_na at /supervision (扬帆单车's black-list entry waits for a second person), /black, /red;")
    echo("     yangfan (suspended, appeal pending), mahui (black-listed), zhangwei (red list) see their own side.")
    for hint in gatherings.hints:
        echo(hint)
    return passwords
