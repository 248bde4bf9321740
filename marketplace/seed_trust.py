"""Demo moderation for seed-demo: reports, decisions, black-list entries, appeals and a red-list edition.

Everything goes through the services, so the ledgers, audit entries and notices are
real. What the demo city shows afterwards:

- the queue: a 刘阳数码 phone reported by three residents (the riskiest), the buyer's
  poor rating the orders seed left open on a 周鑫家居 listing (a system report), and a
  lone report by a reporter once found malicious (the least risky);
- 扬帆单车 with three confirmed violations: a repeat-violations entry proposed by the
  moderator and waiting for a supervisor (trading suspended), and an appeal pending;
- 马慧 selling a counterfeit phone: confirmed by a supervisor, on the public black board;
- 何同学的书 accused of pirated books: the supervisor rejected the entry, an appeal
  overturned the decision (a compensation in the ledger, the listing back on sale);
- a dismissed report, and a malicious one whose reporter's appeal was upheld;
- 张伟的闲置 on this month's red list.

The two-person rules hold throughout: reports are decided by 审核员小李 (mod_li) and
审核员老赵 (mod_zhao), entries confirmed or rejected by the supervisors, and every
appeal decided by someone other than the decision's author.
"""

from __future__ import annotations

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.credit import service as credit
from marketplace.db import db
from marketplace.listings.models import Listing
from marketplace.moderation import appeals, decisions
from marketplace.moderation import service as moderation
from marketplace.moderation.models import Appeal, Decision, Report
from marketplace.orders.models import Order
from marketplace.trust import redlist
from marketplace.trust import service as trust
from marketplace.trust.models import BlacklistEntry

# The red-list seller: the orders seed gives a dozen well-rated sales (see orders/demo.py).
RED_SELLER = "zhangwei"


def _listing(users: dict[str, User], seller: str, category: str, used: set[int]) -> Listing:
    """The seller's first active listing of the category that no order touches (and the demo has not used)."""
    listing = db.session.scalar(
        sa.select(Listing)
        .where(
            Listing.seller_id == users[seller].id,
            Listing.category == category,
            Listing.status == "active",
            Listing.id.not_in(used or [0]),
            ~sa.exists().where(Order.listing_id == Listing.id),
        )
        .order_by(Listing.id)
        .limit(1)
    )
    if listing is None:
        raise RuntimeError(f"seed-demo: {seller} has no free {category} listing to report")
    used.add(listing.id)
    return listing


def seed_trust(users: dict[str, User]) -> dict[str, dict[str, int]]:
    """Reports, decisions, entries, appeals and a red-list edition; returns the counts of each by status."""
    used: set[int] = set()
    li, zhao = users["mod_li"], users["mod_zhao"]
    sup_ma, sup_na = users["sup_ma"], users["sup_na"]

    def report(reporter: str, listing: Listing, reason: str, detail: str) -> Report:
        return moderation.report_listing(users[reporter], listing.id, reason, detail)

    def decide(moderator: User, filed: Report, outcome: str, note: str, violation: str | None = None) -> Decision:
        return decisions.decide(moderator, filed.id, outcome, violation, note)

    # 扬帆单车: three confirmed violations within the year, each on its own bicycle, all reported by 芳芳二手
    # (who becomes an accurate reporter). The third proposes a repeat-violations entry; no supervisor has
    # looked at it yet, and the seller appeals that third decision.
    bikes = [
        ("exaggeration", "描述写的是“几乎全新、没怎么骑过”，看车时链条生锈、两个轮胎都磨平了。"),
        ("hidden_defect", "试骑时发现后变速器拨不动，卖家说一直是好的，描述里也没提。"),
        ("exaggeration", "标题写“9成新”，实物车架多处掉漆和磕碰，照片明显是修过图的。"),
    ]
    notes = (
        "对照举报人的照片和商品照片，车况与描述明显不符，确认夸大宣传。",
        "卖家承认变速器有故障但未在描述中说明，确认隐瞒缺陷。",
        "车架掉漆和磕碰在商品照片中被遮挡，确认夸大宣传；一年内第三次违规。",
    )
    repeat = None
    for i, ((reason, detail), note) in enumerate(zip(bikes, notes, strict=True)):
        filed = report("wangfang", _listing(users, "yangfan", "bicycles", used), reason, detail)
        repeat = decide(li if i != 1 else zhao, filed, "confirmed", note, violation=reason)
    appeals.file(
        users["yangfan"], repeat.id, "这辆车的描述里写了“车架有使用痕迹”，照片也没有修过，不算夸大宣传，请重新核实。"
    )

    # 马慧: a counterfeit phone; the proposed entry is confirmed by a supervisor (public on /black).
    filed = report(
        "nxu_lin",
        _listing(users, "mahui", "phone", used),
        "counterfeit",
        "当面看货时发现是高仿机：系统是安卓套壳，设置里的序列号在官网查不到。",
    )
    fake = decide(
        zhao, filed, "confirmed", "举报人提供了系统界面和官网查询截图，确认为仿冒机。", violation="counterfeit"
    )
    trust.confirm(sup_ma, fake.blacklist_entry.id, "仿冒品牌手机，证据清楚，列入黑名单。")

    # 何同学的书: accused of selling pirated textbooks. The supervisor rejects the entry for want of proof,
    # and the seller's appeal overturns the decision: the penalty is compensated, the listing restored.
    filed = report(
        "chenjing",
        _listing(users, "nxu_he", "books", used),
        "counterfeit",
        "这本书纸张很薄，字迹模糊，还有错页，看起来是盗版印刷。",
    )
    pirated = decide(
        zhao, filed, "confirmed", "照片中纸张和印刷质量明显差于正版，确认假冒伪劣。", violation="counterfeit"
    )
    trust.reject(sup_na, pirated.blacklist_entry.id, "仅凭几张照片无法认定为盗版，证据不足，暂不列入黑名单。")
    overturned = appeals.file(
        users["nxu_he"],
        pirated.id,
        "这本书是在学校书店买的正版，我有购书小票和封底防伪标签的照片，可以提供给审核员核对。",
    )
    appeals.decide(li, overturned.id, "overturned", "卖家提供了书店购书小票和防伪标签照片，确认为正版，撤销原决定。")

    # A dismissed report: the noise was in the description already.
    filed = report(
        "nmu_bai",
        _listing(users, "huanbao_shop", "appliance", used),
        "hidden_defect",
        "冰箱运行的时候声音有点大，担心压缩机有问题。",
    )
    decide(li, filed, "dismissed", "商品描述和成色清单已写明运行声音，属于正常范围，不构成隐瞒。")

    # A malicious report: the reporter is penalised, appeals, and a supervisor upholds the decision.
    filed = report(
        "nmu_ma", _listing(users, "wangfang", "clothing", used), "counterfeit", "她卖的东西都是假货，大家千万别买！"
    )
    malicious = decide(zhao, filed, "malicious", "举报人未提供任何依据，内容针对卖家本人而非商品，认定为恶意举报。")
    upheld = appeals.file(
        users["nmu_ma"], malicious.id, "我只是觉得这双鞋看起来像假的，不是故意针对卖家，希望撤销扣分。"
    )
    appeals.decide(
        sup_ma, upheld.id, "upheld", "举报内容是“大家千万别买”这类针对卖家本人的话，且没有任何依据，维持原决定。"
    )

    # The open queue: three residents on one phone (riskiest), the orders seed's poor rating (a system
    # report, left as it is), and a lone report by the reporter just found malicious (least risky).
    phone = _listing(users, "liuyang", "phone", used)
    report("wangfang", phone, "hidden_defect", "屏幕右上角有一道明显划痕，描述写的是“屏幕无划痕”。")
    report("chenjing", phone, "hidden_defect", "电池续航很差，半天就没电了，描述里没有提电池的情况。")
    report("nxu_lin", phone, "exaggeration", "标题写的成色比实物好很多，边框有好几处磕碰。")
    report(
        "nmu_ma",
        _listing(users, "huanbao_shop", "appliance", used),
        "exaggeration",
        "写的是近新，图片里看着有不少使用痕迹。",
    )

    # The red list asks for a score of at least its minimum (750). A dozen good ratings earn only the
    # capped rewards of one month (the seed's history is weeks, not years), so a supervisor's audited
    # adjustment stands in for the seller's earlier good record.
    star = users[RED_SELLER]
    floor = redlist.rule()["min_score"]
    if star.credit_score is not None and star.credit_score < floor:
        credit.adjust(sup_na, star, floor + 10 - star.credit_score, "演示数据：历史良好记录")
    edition, _created = redlist.compute_edition()
    return _counts(edition)


def _by_status(model) -> dict[str, int]:
    return dict(db.session.execute(sa.select(model.status, sa.func.count()).group_by(model.status)).all())


def _counts(edition) -> dict[str, dict[str, int]]:
    outcomes = dict(db.session.execute(sa.select(Decision.outcome, sa.func.count()).group_by(Decision.outcome)).all())
    return {
        "reports": _by_status(Report),
        "decisions": outcomes,
        "black list": _by_status(BlacklistEntry),
        "appeals": _by_status(Appeal),
        f"red list {edition.period}": {"sellers": len(redlist.standing(edition))},
    }
