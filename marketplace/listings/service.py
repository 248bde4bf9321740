"""Listings: who may sell and edit, the checks on what they type, and the status changes.

Rules live here and nowhere else; views and the API only translate. Every change of
a listing that a search could see calls `search.index_listing` in the same
transaction. Services flush, never commit.

Recycle-only appliances (gas and water-heating appliances past their safe service
life, as the grading engine decides): they may only be given away for recycling, so
their price must be 0 — a higher price is refused on the price field rather than
silently changed, and every page and the API mark them 仅供回收.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from marketplace.accounts.models import User
from marketplace.audit.service import record
from marketplace.credit.policy import BAND_LABELS, band, policy
from marketplace.db import db, utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.grading import engine as grading
from marketplace.identity.models import IdentityVerification
from marketplace.identity.places import DISTRICTS
from marketplace.identity.service import is_verified
from marketplace.listings import fields, search
from marketplace.listings.models import CATEGORIES, Listing
from marketplace.trading import check_can_trade

CATEGORY_LABELS = {
    "phone": _l("手机"),
    "appliance": _l("家电"),
    "vehicle": _l("车辆"),
    "books": _l("图书"),
    "clothing": _l("服装纺织"),
    "furniture": _l("家具"),
    "bicycles": _l("自行车"),
    "baby": _l("母婴"),
    "other": _l("其他"),
}
# One character on a coloured disc where a listing has no photo (and on the category links).
CATEGORY_GLYPHS = {
    "phone": lazy_pgettext("类目图标", "机"),
    "appliance": lazy_pgettext("类目图标", "电"),
    "vehicle": lazy_pgettext("类目图标", "车"),
    "books": lazy_pgettext("类目图标", "书"),
    "clothing": lazy_pgettext("类目图标", "衣"),
    "furniture": lazy_pgettext("类目图标", "椅"),
    "bicycles": lazy_pgettext("类目图标", "骑"),
    "baby": lazy_pgettext("类目图标", "婴"),
    "other": lazy_pgettext("类目图标", "杂"),
}
assert set(CATEGORY_LABELS) == set(CATEGORIES)

STATUS_LABELS = {
    "active": _l("在售"),
    "reserved": _l("已预订"),
    "sold": _l("已售出"),
    "withdrawn": _l("已下架"),
    "removed": _l("已被移除"),
    "swapped": _l("已交换"),
}
# Anyone may open these; withdrawn and removed ones only their seller and moderators.
PUBLIC_STATUSES = ("active", "reserved", "sold", "swapped")
EDITABLE_STATUSES = ("active", "withdrawn")

# --- who may do what --------------------------------------------------------------


def can_list(user: User | None) -> bool:
    """Whether `user` may publish listings now."""
    try:
        check_can_list(user)
    except Forbidden:
        return False
    return True


def check_can_list(user: User | None) -> None:
    """Raise Forbidden unless `user` may publish a listing: active, real-name verified, within their credit band.

    The band's limits ("limits" in credit/policy.json): a restricted seller lists
    nothing, a poor one at most a few active listings at a time.
    """
    if user is None or user.status != "active":
        raise Forbidden(_("该账户已停用或注销，不能发布商品。"))
    if not is_verified(user):
        raise Forbidden(_("发布闲置前请先完成实名认证。"))
    check_can_trade(user)
    _check_credit_limits(user)


def _band_ceiling(code: str) -> int | None:
    """The lowest score above band `code` (the next band's minimum); None for the top band."""
    bands = policy()["bands"]
    index = next(i for i, entry in enumerate(bands) if entry["code"] == code)
    return bands[index - 1]["min"] if index > 0 else None


def _check_credit_limits(user: User) -> None:
    code = band(user.credit_score)
    limits = policy().get("limits", {}).get(code) if code else None
    if not limits:
        return
    if limits.get("can_list", True) is False:
        raise Forbidden(
            _(
                "你的信用分为 %(score)s，处于“%(band)s”档（低于 %(ceiling)s 分）：暂时不能发布新商品。"
                "按时履约、获得好评可以让信用分回升；对扣分有异议的，以后可以提出申诉。",
                score=user.credit_score,
                band=BAND_LABELS[code],
                ceiling=_band_ceiling(code),
            )
        )
    cap = limits.get("max_active_listings")
    if cap is not None:
        active = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Listing)
            .where(Listing.seller_id == user.id, Listing.status == "active")
        )
        if active >= cap:
            raise Forbidden(
                _(
                    "你的信用分为 %(score)s，处于“%(band)s”档：最多同时在售 %(cap)s 件商品，"
                    "请先下架或售出一件再发布。对扣分有异议的，以后可以提出申诉。",
                    score=user.credit_score,
                    band=BAND_LABELS[code],
                    cap=cap,
                )
            )


def is_moderator(user: User | None) -> bool:
    """Whether `user` may take listings down (active moderators)."""
    return bool(user and user.status == "active" and user.has_role("moderator"))


def is_owner(user: User | None, listing: Listing) -> bool:
    """Whether `user` is the listing's seller."""
    return bool(user and user.id == listing.seller_id)


def can_view(user: User | None, listing: Listing) -> bool:
    """Public listings for everyone; withdrawn and removed ones for their seller and moderators."""
    return listing.status in PUBLIC_STATUSES or is_owner(user, listing) or is_moderator(user)


def can_edit(user: User | None, listing: Listing) -> bool:
    """The seller, while the listing is on sale or withdrawn (not reserved, sold or removed)."""
    return is_owner(user, listing) and user.status == "active" and listing.status in EDITABLE_STATUSES


def can_withdraw(user: User | None, listing: Listing) -> bool:
    """The seller may take an active listing off sale."""
    return is_owner(user, listing) and listing.status == "active"


def can_relist(user: User | None, listing: Listing) -> bool:
    """The seller may put a withdrawn listing back on sale (if they may still sell)."""
    return is_owner(user, listing) and listing.status == "withdrawn" and can_list(user)


def can_mark_sold(user: User | None, listing: Listing) -> bool:
    """The seller may mark an active listing sold (a deal made off the platform's orders)."""
    return is_owner(user, listing) and listing.status == "active"


def can_remove(user: User | None, listing: Listing) -> bool:
    """Moderators may remove any listing that is not sold."""
    return is_moderator(user) and listing.status not in ("sold", "swapped", "removed")


# --- reading --------------------------------------------------------------------------


def get_visible(user: User | None, listing_id: int) -> Listing:
    """The listing if `user` may see it; NotFound otherwise (hidden ones are not probed)."""
    listing = db.session.get(Listing, listing_id)
    if listing is None or not can_view(user, listing):
        raise NotFound(_("找不到该商品。"))
    return listing


def get_for_edit(user: User, listing_id: int) -> Listing:
    """The listing for its seller to change, its row locked: NotFound, Forbidden or Conflict (state).

    The lock (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises
    writers) makes a concurrent mark-sold or photo upload wait, and the row is read
    afresh, so the status and the photos checked here are still true at the flush.
    """
    listing = db.session.scalars(
        sa.select(Listing)
        .where(Listing.id == listing_id)
        .with_for_update(of=Listing)
        .execution_options(populate_existing=True)
    ).first()
    if listing is None or not can_view(user, listing):
        raise NotFound(_("找不到该商品。"))
    if not is_owner(user, listing):
        raise Forbidden(_("只有卖家本人可以修改这件商品。"))
    if user.status != "active":
        raise Forbidden(_("该账户已停用或注销，不能修改商品。"))
    if listing.status not in EDITABLE_STATUSES:
        raise Conflict(_("该商品%(status)s，不能再修改。", status=STATUS_LABELS[listing.status]))
    return listing


def newest(limit: int = 12) -> list[Listing]:
    """The newest active listings."""
    return list(
        db.session.scalars(
            sa.select(Listing).where(Listing.status == "active").order_by(Listing.id.desc()).limit(limit)
        )
    )


def seller_listings(user: User, *, before_id: int | None = None, limit: int = 30) -> list[Listing]:
    """A page of a seller's listings, newest first, every status (keyset: ids below `before_id`)."""
    query = sa.select(Listing).where(Listing.seller_id == user.id).order_by(Listing.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(Listing.id < before_id)
    return list(db.session.scalars(query))


def verified_sellers(listings) -> set[int]:
    """The ids of the sellers among `listings` who are real-name verified (one query for a page)."""
    ids = {listing.seller_id for listing in listings}
    if not ids:
        return set()
    rows = db.session.scalars(
        sa.select(IdentityVerification.user_id)
        .join(User, User.id == IdentityVerification.user_id)
        .where(
            IdentityVerification.user_id.in_(ids),
            IdentityVerification.status == "verified",
            User.status != "closed",
        )
    )
    return set(rows)


IDENTIFIER_TYPES = ("imei", "vin")


def sees_identifiers(user: User | None, listing: Listing) -> bool:
    """Whether `user` sees the full IMEI or VIN: the seller, moderators and inspectors."""
    return (
        is_owner(user, listing)
        or is_moderator(user)
        or bool(user and user.status == "active" and user.has_role("inspector"))
    )


def shorten_identifier(value: str) -> str:
    """An IMEI or VIN for the public: the model part (first 8) and the last 2, the serial starred."""
    if len(value) <= 10:
        return "*" * len(value)
    return value[:8] + "*" * (len(value) - 10) + value[-2:]


def visible_answers(user: User | None, listing: Listing) -> dict | None:
    """The checklist answers as `user` may see them: device serials shortened for the public.

    A full IMEI or VIN names one device; buyers check the model part, the seller and
    inspectors have the device itself.
    """
    if listing.grading is None or sees_identifiers(user, listing):
        return listing.grading
    standard = grading.get_standard(listing.category)
    if standard is None:
        return listing.grading
    shown = dict(listing.grading)
    for item in standard.items:
        if item.type in IDENTIFIER_TYPES and isinstance(shown.get(item.key), str):
            shown[item.key] = shorten_identifier(shown[item.key])
    return shown


# --- input --------------------------------------------------------------------------------


@dataclass
class ListingInput:
    """What a seller sends; None means "not given" (unchanged, for an edit).

    The price comes either as typed text in yuan (`price`, from the form) or as an
    integer number of fen (`price_fen`, from the API); errors name the field given.
    """

    title: str | None = None
    description: str | None = None
    category: str | None = None
    price: str | None = None
    price_fen: int | None = None
    district: str | None = None
    grading: dict | None = None
    event_id: int | None = None


def _clean_price(data: ListingInput, errors: dict[str, list[str]]) -> tuple[int | None, str]:
    if data.price is not None:
        try:
            return fields.parse_price(data.price), "price"
        except Invalid as exc:
            errors.update(exc.errors)
            return None, "price"
    fen = data.price_fen
    if fen is None or isinstance(fen, bool) or not isinstance(fen, int):
        errors["price_fen"] = [_("请填写价格（单位：分）")]
        return None, "price_fen"
    if fen < 0:
        errors["price_fen"] = [_("价格不能为负数")]
    elif fen > fields.PRICE_MAX_FEN:
        errors["price_fen"] = [_("价格不能超过 1 亿元")]
    return fen, "price_fen"


def grade_columns(category: str, answers: dict | None, errors: dict[str, list[str]]) -> tuple[dict, list[str]]:
    """A listing's grading columns from its checklist, and the labels of the gates that block it.

    The engine's field errors (`grading.<item>`) go into `errors`; a category without
    a standard takes no checklist (and stores none).
    """
    result = grading.assess(category, answers)
    for key, messages in result.errors.items():
        errors.setdefault(key, []).extend(str(m) for m in messages)
    blocked = []
    for key, label in result.blocked:
        blocked.append(str(label))
        errors.setdefault(f"grading.{key}", []).append(_("回答为“是”的商品不能发布"))
    columns = {
        "grading": result.answers if result.version is not None else None,
        "grade": result.grade,
        "standard_version": result.version,
        "safety_warning": result.safety_warning,
        "recycle_only": result.recycle_only,
    }
    return columns, blocked


def _refuse(errors: dict[str, list[str]], blocked: list[str]) -> None:
    if blocked:
        raise Invalid(
            _("该商品不能发布：%(reasons)s。", reasons="；".join(blocked)),
            errors=errors,
        )
    if errors:
        raise Invalid(_("信息有误，请检查标出的项目。"), errors=errors)


def _check_recycle(recycle_only: bool, price_fen: int | None, price_field: str, errors: dict[str, list[str]]) -> None:
    if recycle_only and price_fen:
        errors.setdefault(price_field, []).append(
            _("燃气或热水器具已超过安全使用年限，只能免费交给回收，请把价格填为 0")
        )


# The events feature says whether a seller may bring listings to an event:
# check(user, event_id) → None, or the reason in words (events → listings, never back).
EVENT_CHECKS: list[Callable[[User, int], str | None]] = []


def register_event_check(check: Callable[[User, int], str | None]) -> Callable[[User, int], str | None]:
    """Let the events feature vet `event_id` on a listing (idempotent)."""
    if check not in EVENT_CHECKS:
        EVENT_CHECKS.append(check)
    return check


def _check_event(user: User, event_id: int | None, errors: dict[str, list[str]]) -> None:
    if event_id is None:
        return
    if not EVENT_CHECKS:
        errors["event_id"] = [_("找不到该活动")]
    for check in EVENT_CHECKS:
        reason = check(user, event_id)
        if reason:
            errors["event_id"] = [reason]
            return


# --- writing --------------------------------------------------------------------------


def create(user: User, data: ListingInput) -> Listing:
    """Publish a listing: verified sellers, every field checked, the grade computed, indexed."""
    check_can_list(user)
    errors: dict[str, list[str]] = {}
    category = (data.category or "").strip()
    if category not in CATEGORIES:
        errors["category"] = [_("请选择类目")]
    title = fields.clean_title(data.title, errors)
    description = fields.clean_description(data.description, errors)
    price_fen, price_field = _clean_price(data, errors)
    district = (data.district or "").strip()
    if district not in DISTRICTS:
        errors["district"] = [_("请选择所在区县")]
    _check_event(user, data.event_id, errors)
    columns, blocked = grade_columns(category, data.grading, errors) if category in CATEGORIES else ({}, [])
    _check_recycle(columns.get("recycle_only", False), price_fen, price_field, errors)
    _refuse(errors, blocked)
    listing = Listing(
        seller_id=user.id,
        category=category,
        title=title,
        description=description,
        price_fen=price_fen,
        district=district,
        status="active",
        event_id=data.event_id,
        **columns,
    )
    db.session.add(listing)
    db.session.flush()
    search.index_listing(listing)
    return listing


def edit(user: User, listing: Listing, data: ListingInput) -> Listing:
    """Change what was given (None leaves a field as it is); a new checklist is graded again."""
    listing = get_for_edit(user, listing.id)
    errors: dict[str, list[str]] = {}
    changes: dict = {}
    if data.category is not None and data.category != listing.category:
        errors["category"] = [_("类目发布后不能修改；如选错了，请下架后重新发布")]
    if data.title is not None:
        changes["title"] = fields.clean_title(data.title, errors)
    if data.description is not None:
        changes["description"] = fields.clean_description(data.description, errors)
    price_fen, price_field = listing.price_fen, "price"
    if data.price is not None or data.price_fen is not None:
        price_fen, price_field = _clean_price(data, errors)
        changes["price_fen"] = price_fen
    if data.district is not None:
        district = data.district.strip()
        if district not in DISTRICTS:
            errors["district"] = [_("请选择所在区县")]
        changes["district"] = district
    if data.event_id is not None:
        # 0 takes the listing away from its event; another id brings it to that event.
        if data.event_id == 0:
            changes["event_id"] = None
        elif data.event_id != listing.event_id:
            _check_event(user, data.event_id, errors)
            changes["event_id"] = data.event_id
    blocked: list[str] = []
    if data.grading is not None:
        columns, blocked = grade_columns(listing.category, data.grading, errors)
        changes.update(columns)
    _check_recycle(changes.get("recycle_only", listing.recycle_only), price_fen, price_field, errors)
    _refuse(errors, blocked)
    for key, value in changes.items():
        setattr(listing, key, value)
    listing.updated_at = utcnow()
    db.session.flush()
    search.index_listing(listing)
    return listing


def _set_status(listing: Listing, status: str, allowed_from: tuple[str, ...]) -> None:
    # One conditional UPDATE: a concurrent change (an order reserving it, a moderator
    # removing it) makes this one fail visibly instead of overwriting it.
    result = db.session.execute(
        sa.update(Listing)
        .where(Listing.id == listing.id, Listing.status.in_(allowed_from))
        # updated_at is when the seller last changed what is listed (a certification made
        # before it is out of date): a status change leaves it as it is.
        .values(status=status, updated_at=Listing.updated_at)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.refresh(listing)
        raise Conflict(_("该商品%(status)s，不能进行此操作。", status=STATUS_LABELS[listing.status]))
    db.session.refresh(listing)
    search.index_listing(listing)


# Features that keep hold of listings (orders) hear when a seller or a moderator takes one off
# sale, so what they hold is closed in the same transaction: hook(listing, new_status).
LEFT_SALE_HOOKS: list[Callable[[Listing, str], None]] = []


def on_left_sale(hook: Callable[[Listing, str], None]) -> Callable[[Listing, str], None]:
    """Register a hook called when a listing is withdrawn, marked sold or removed outside an order."""
    if hook not in LEFT_SALE_HOOKS:
        LEFT_SALE_HOOKS.append(hook)
    return hook


def _left_sale(listing: Listing) -> None:
    for hook in LEFT_SALE_HOOKS:
        hook(listing, listing.status)


def hold_for_order(listing: Listing) -> None:
    """Reserve an active listing for an accepted order; Conflict when it is not on sale (any more)."""
    _set_status(listing, "reserved", ("active",))


def release_from_order(listing: Listing) -> bool:
    """Put a reserved listing back on sale when its order ends without a sale; False if it was not reserved.

    A moderator may have removed it meanwhile: then it stays removed.
    """
    try:
        _set_status(listing, "active", ("reserved",))
    except Conflict:
        return False
    return True


def sell_to_order(listing: Listing) -> bool:
    """Mark a reserved listing sold when its order completes; False if it was not reserved (say, removed)."""
    try:
        _set_status(listing, "sold", ("reserved",))
    except Conflict:
        return False
    return True


def swap_away(listings: list[Listing]) -> None:
    """Mark listings swapped at an event, all or none: Conflict if any is no longer on sale."""
    ids = [listing.id for listing in listings]
    result = db.session.execute(
        sa.update(Listing)
        .where(Listing.id.in_(ids), Listing.status == "active")
        .values(status="swapped", updated_at=Listing.updated_at)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != len(ids):
        # The caller's transaction rolls back: none of them is marked.
        raise Conflict(_("交换的商品中有的已经售出、预订或下架，这次交换不能完成。"))
    for listing in listings:
        db.session.refresh(listing)
        search.index_listing(listing)
        _left_sale(listing)


def _owned(user: User, listing: Listing) -> None:
    if not is_owner(user, listing):
        raise Forbidden(_("只有卖家本人可以进行此操作。"))


def withdraw(user: User, listing: Listing) -> Listing:
    """The seller takes an active listing off sale (it can be relisted)."""
    _owned(user, listing)
    _set_status(listing, "withdrawn", ("active",))
    _left_sale(listing)
    return listing


def relist(user: User, listing: Listing) -> Listing:
    """The seller puts a withdrawn listing back on sale."""
    _owned(user, listing)
    check_can_list(user)
    _set_status(listing, "active", ("withdrawn",))
    return listing


def mark_sold(user: User, listing: Listing) -> Listing:
    """The seller marks an active listing as sold."""
    _owned(user, listing)
    _set_status(listing, "sold", ("active",))
    _left_sale(listing)
    return listing


def delete(user: User, listing: Listing) -> Listing:
    """DELETE: the seller withdraws their listing, a moderator removes anyone's (audited).

    Repeating it is harmless (already withdrawn or removed stays so); a sold listing
    stays as the record of the deal (Conflict).
    """
    if is_owner(user, listing):
        if listing.status != "withdrawn":
            _set_status(listing, "withdrawn", ("active",))
            _left_sale(listing)
        return listing
    if not is_moderator(user):
        raise Forbidden(_("只有卖家本人或审核员可以下架这件商品。"))
    if listing.status != "removed":
        _set_status(listing, "removed", ("active", "reserved", "withdrawn"))
        _left_sale(listing)
        record(
            "listing.removed",
            actor=user,
            subject_type="listing",
            subject_id=listing.id,
            data={"seller_id": listing.seller_id},
        )
    return listing


# --- taken down by a decision (moderation, the black list) ---------------------------------------


def take_down(actor: User, listing: Listing, *, cause: str) -> bool:
    """Remove a listing on a decision the caller authorised (audited with its cause); False if not on sale.

    Active, reserved and withdrawn listings are removed (an order holding it is closed);
    a sold one stays the record of the deal.
    """
    try:
        _set_status(listing, "removed", ("active", "reserved", "withdrawn"))
    except Conflict:
        return False
    _left_sale(listing)
    record(
        "listing.removed",
        actor=actor,
        subject_type="listing",
        subject_id=listing.id,
        data={"seller_id": listing.seller_id, "cause": cause},
    )
    return True


def restore(actor: User, listing: Listing, *, cause: str, to: str = "active") -> bool:
    """Give a removed listing back to its seller (its removal was overturned), audited; False if it is not removed.

    It goes back on sale (`to` "active") only if the seller may list now; otherwise, and when it had
    been withdrawn, it comes back withdrawn, for the seller to relist when they may.
    """
    if to == "active":
        try:
            check_can_list(listing.seller)
        except Forbidden:
            to = "withdrawn"
    to = "active" if to in ("active", "reserved") else "withdrawn"
    try:
        _set_status(listing, to, ("removed",))
    except Conflict:
        return False
    record(
        "listing.restored",
        actor=actor,
        subject_type="listing",
        subject_id=listing.id,
        data={"seller_id": listing.seller_id, "cause": cause, "status": to},
    )
    return True


def on_sale_of(user_id: int) -> list[Listing]:
    """The user's active and reserved listings (what a black-list entry takes down)."""
    return list(
        db.session.scalars(
            sa.select(Listing)
            .where(Listing.seller_id == user_id, Listing.status.in_(("active", "reserved")))
            .order_by(Listing.id)
        )
    )
