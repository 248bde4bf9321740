"""Event pages: the list and the calendar, the event page with its listings, registration with its
check-in code (text and QR code), my events, swap offers, and the organiser's pages (create, edit,
cancel, the console, check-in by code from a phone).

Every rule lives in events.service, swaps and settlement; these views turn refusals into messages
beside the field at fault or flashed, and commit once at the end of a successful POST.
"""

from __future__ import annotations

import calendar as calendar_module
import io
from datetime import UTC, date, datetime, timedelta

import segno
from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from markupsafe import Markup

from marketplace import MAX_ID
from marketplace.accounts.forms import ConfirmForm
from marketplace.db import db, utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.events import feeds, service, settlement, summary, swaps
from marketplace.events.forms import (
    DATETIME_LOCAL,
    AppealForm,
    CheckinForm,
    DecideForm,
    EventForm,
    ListingsForm,
    OfferForm,
    ReasonForm,
    RegisterForm,
)
from marketplace.events.models import Registration
from marketplace.forms_util import apply_domain_error
from marketplace.identity import service as identity
from marketplace.identity.places import DISTRICTS, campus_label
from marketplace.listings import service as listings
from marketplace.listings.search import SearchParams, search_listings

bp = Blueprint("events", __name__)
# The app registers both: these pages and the iCalendar feeds.
blueprints = [bp, feeds.bp]

LIST_PAGE = 20
LISTINGS_PAGE = 20
RECENT_CHECKINS = 10
APPEAL_STATUS_LABELS = {
    "pending": _l("申诉处理中"),
    "excused": _l("申诉成立，缺席扣分已撤销"),
    "upheld": _l("申诉未被采纳，缺席记录维持"),
}
WEEKDAYS = (_l("周一"), _l("周二"), _l("周三"), _l("周四"), _l("周五"), _l("周六"), _l("周日"))
SWAP_DONE = {
    "accept": _l("交换成功！双方的商品已标记为“已交换”，订单已完成，请在 14 天内评价对方。"),
    "decline": _l("已婉拒这个交换请求。"),
    "withdraw": _l("已撤回交换请求。"),
}


@bp.record_once
def _template_globals(state) -> None:
    state.app.jinja_env.globals.update(
        event_kind_labels=service.KIND_LABELS,
        event_status_labels=service.STATUS_LABELS,
        event_role_labels=service.ROLE_LABELS,
        registration_status_labels=service.REGISTRATION_STATUS_LABELS,
        swap_status_labels=swaps.STATUS_LABELS,
        no_show_appeal_labels=APPEAL_STATUS_LABELS,
        campus_label=campus_label,
    )


def _me():
    return current_user._get_current_object() if current_user.is_authenticated else None


def _to_local(moment: datetime | None) -> str:
    """An aware UTC time as a datetime-local value in Beijing time."""
    return moment.astimezone(service.SHANGHAI).strftime(DATETIME_LOCAL) if moment else ""


def _ids(name: str) -> list[int]:
    """Checkbox values that are ids; anything else is dropped."""
    out = []
    for value in request.form.getlist(name):
        if value.isascii() and value.isdigit() and len(value) < 11 and 0 < int(value) <= MAX_ID:
            out.append(int(value))
    return out


# --- the list and the calendar -----------------------------------------------------------------------


def _encode_after(event) -> str:
    return f"{event.starts_at.astimezone(UTC).strftime('%Y%m%dT%H%M%S')}_{event.id}"


def _decode_after(value: str | None) -> tuple[datetime, int] | None:
    """The keyset cursor `20261205T013000_12` (UTC start, id); anything else is None (the first page)."""
    if not value or len(value) > 40 or "_" not in value:
        return None
    moment, _sep, ident = value.rpartition("_")
    if not (ident.isascii() and ident.isdigit() and len(ident) < 11 and 0 < int(ident) <= MAX_ID):
        return None
    try:
        starts = datetime.strptime(moment, "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return starts, int(ident)


@bp.get("/events")
def index():
    """Upcoming events, soonest first (or the past ones), by kind and district."""
    args = request.args
    kind = args.get("kind") if args.get("kind") in service.KIND_LABELS else None
    district = args.get("district") if args.get("district") in DISTRICTS else None
    past = args.get("past") == "1"
    after = None if past else _decode_after(args.get("after"))
    if past:
        rows = service.past(kind=kind, district=district, limit=LIST_PAGE)
        more = None
    else:
        rows = service.upcoming(kind=kind, district=district, after=after, limit=LIST_PAGE + 1)
        more = _encode_after(rows[LIST_PAGE - 1]) if len(rows) > LIST_PAGE else None
        rows = rows[:LIST_PAGE]
    filters = {k: v for k, v in (("kind", kind), ("district", district)) if v}
    return render_template(
        "events/index.html",
        events=rows,
        kind=kind,
        district=district,
        past=past,
        filters=filters,
        paged=after is not None,
        next_url=url_for("events.index", **filters, after=more) if more else None,
        can_create=service.is_organiser(_me()),
        districts=DISTRICTS,
    )


def _month(value: str | None) -> tuple[int, int]:
    today = utcnow().astimezone(service.SHANGHAI).date()
    if value and len(value) == 7 and value[4] == "-" and value.replace("-", "").isascii():
        year, month = value[:4], value[5:]
        if year.isdigit() and month.isdigit() and 2000 <= int(year) <= 2100 and 1 <= int(month) <= 12:
            return int(year), int(month)
    return today.year, today.month


@bp.get("/events/calendar")
def calendar():
    """A month of events, Monday first; on a phone the days that have events, as a list."""
    year, month = _month(request.args.get("month"))
    by_day: dict[date, list] = {}
    for event in service.in_month(year, month):
        by_day.setdefault(event.starts_at.astimezone(service.SHANGHAI).date(), []).append(event)
    weeks = calendar_module.Calendar(firstweekday=0).monthdatescalendar(year, month)
    first = date(year, month, 1)
    previous = first - timedelta(days=1)
    following = first + timedelta(days=32)
    return render_template(
        "events/calendar.html",
        year=year,
        month=month,
        weeks=weeks,
        by_day=by_day,
        weekdays=WEEKDAYS,
        today=utcnow().astimezone(service.SHANGHAI).date(),
        previous=f"{previous.year:04d}-{previous.month:02d}",
        following=f"{following.year:04d}-{following.month:02d}",
        count=sum(len(v) for v in by_day.values()),
    )


# --- the event page -----------------------------------------------------------------------------------


@bp.get("/events/<int:event_id>")
def detail(event_id: int):
    """The event: what, when, where, who may come, the register block, and the listings brought to it."""
    user = _me()
    event = service.get(event_id)
    registration = service.registration_of(user, event)
    reason = None if registration else service.why_not_register(user, event)
    q = " ".join(request.args.get("q", "").split())[:100]
    cursor = request.args.get("cursor") or None
    search_error = None
    try:
        page = search_listings(SearchParams(q=q, event_id=event.id, cursor=cursor, limit=LISTINGS_PAGE))
    except Invalid as exc:
        page = None
        if cursor is not None and "cursor" in exc.errors:
            flash(_("翻页链接已失效，已回到第一页。"), "info")
            cursor = None
            try:
                page = search_listings(SearchParams(q=q, event_id=event.id, limit=LISTINGS_PAGE))
            except Invalid as again:
                exc = again
        if page is None:
            search_error = next((str(m) for ms in exc.errors.values() for m in ms), str(exc.message))
    items = page.items if page else []
    can_swap = (
        registration is not None and registration.status == "registered" and service.is_live(event) and user is not None
    )
    return render_template(
        "events/detail.html",
        event=event,
        registration=registration,
        position=service.waitlist_position(registration) if registration else None,
        reason=reason,
        needs_verification=bool(reason) and user is not None and identity.verified_identity(user) is None,
        register_form=RegisterForm(),
        can_manage=service.can_manage(user, event),
        can_bring=user is not None and service.why_not_bring(user, event) is None,
        can_swap=can_swap,
        waiting=service.waitlist_count(event),
        live=service.is_live(event),
        ended=service.has_ended(event),
        q=q,
        items=items,
        verified=listings.verified_sellers(items),
        search_error=search_error,
        paged=cursor is not None,
        next_url=url_for("events.detail", event_id=event.id, q=q or None, cursor=page.next_cursor, _anchor="listings")
        if page and page.next_cursor
        else None,
    )


@bp.post("/events/<int:event_id>/register")
@login_required
def register(event_id: int):
    """Register as a stallholder (a stall, or the waiting list) or as a visitor."""
    user = _me()
    event = service.get(event_id)
    form = RegisterForm()
    try:
        registration = service.register(user, event.id, form.role.data or "")
        db.session.commit()
    except (Forbidden, Invalid) as exc:
        db.session.rollback()
        messages = [m for ms in exc.errors.values() for m in ms] or [exc.message]
        for message in messages:
            flash(str(message), "error")
        return redirect(url_for("events.detail", event_id=event_id))
    except Conflict as exc:
        db.session.rollback()
        flash(str(exc.message), "info")
        existing = service.registration_of(user, service.get(event_id))
        if existing is not None:
            return redirect(url_for("events.registration", registration_id=existing.id))
        return redirect(url_for("events.detail", event_id=event_id))
    if registration.status == "waitlisted":
        flash(
            _(
                "摊位已满，你在候补名单第 %(n)s 位。有摊主取消时会按顺序递补，并通知你。",
                n=service.waitlist_position(registration),
            ),
            "info",
        )
    else:
        flash(
            _("报名成功，签到码 %(code)s。活动当天请向组织者出示签到码或二维码。", code=registration.checkin_code),
            "success",
        )
    return redirect(url_for("events.registration", registration_id=registration.id))


# --- a registration: the code, the QR code, cancelling, the no-show appeal --------------------------------


def _checkin_url(registration) -> str:
    return url_for("events.checkin", event_id=registration.event_id, code=registration.checkin_code, _external=True)


def _qr(registration):
    return segno.make(_checkin_url(registration), error="m")


def render_registration(user, registration, *, appeal_form=None, decide_form=None, status: int = 200):
    event = registration.event
    qr = _qr(registration)
    # A viewBox instead of a fixed size: the stylesheet sizes it (phone-wide, at most 16rem).
    svg = qr.svg_inline(scale=6, border=4, light="#ffffff", omitsize=True, svgclass="qr__code", title=_("签到二维码"))
    holder = registration.user_id == user.id
    return (
        render_template(
            "events/registration.html",
            registration=registration,
            event=event,
            holder=holder,
            position=service.waitlist_position(registration),
            qr_svg=Markup(svg),  # noqa: S704 - segno writes only path data and escapes the title
            can_cancel=holder
            and registration.status != "cancelled"
            and registration.checked_in_at is None
            and not service.has_ended(event),
            can_appeal=settlement.can_appeal(user, registration),
            appeal_deadline=settlement.appeal_deadline(registration),
            can_decide=settlement.can_decide(user, registration),
            can_manage=service.can_manage(user, event),
            appeal_form=appeal_form or AppealForm(),
            decide_form=decide_form or DecideForm(),
        ),
        status,
    )


@bp.get("/registrations/<int:registration_id>")
@login_required
def registration(registration_id: int):
    """A registration: status, role, the check-in code as text and as a QR code, no-show and appeal."""
    user = _me()
    return render_registration(user, service.get_registration(user, registration_id))


@bp.get("/registrations/<int:registration_id>/qr.svg")
@login_required
def registration_qr(registration_id: int):
    """The check-in QR code as an SVG image (it opens the organiser's check-in page with the code filled in)."""
    user = _me()
    registration = service.get_registration(user, registration_id)
    out = io.BytesIO()
    _qr(registration).save(out, kind="svg", scale=8, border=4, light="#ffffff", title=_("签到二维码"))
    response = Response(out.getvalue(), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/registrations/<int:registration_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel_registration(registration_id: int):
    """GET: the confirmation page (warns when it is too late to avoid a no-show); POST: cancel."""
    user = _me()
    registration = service.get_registration(user, registration_id)
    if registration.user_id != user.id:
        raise Forbidden(_("只能取消自己的报名。"))
    if registration.status == "cancelled":
        flash(_("这个报名已经取消了。"), "info")
        return redirect(url_for("events.registration", registration_id=registration.id))
    late = (
        registration.role == "stall"
        and registration.status == "registered"
        and service.is_late_cancellation(registration)
    )
    form = ConfirmForm()
    if request.method == "GET":
        return render_template("events/cancel_registration.html", registration=registration, late=late, form=form)
    try:
        service.cancel_registration(user, registration)
        db.session.commit()
    except Conflict as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("events.registration", registration_id=registration_id))
    if late:
        flash(_("已取消报名。距开始不足 24 小时，这次取消仍会记为缺席。"), "info")
    else:
        flash(_("已取消报名。"), "success")
    return redirect(url_for("events.detail", event_id=registration.event_id))


@bp.post("/registrations/<int:registration_id>/appeal")
@login_required
def appeal_no_show(registration_id: int):
    """The stallholder's one appeal of a no-show."""
    user = _me()
    registration = service.get_registration(user, registration_id)
    form = AppealForm()
    try:
        settlement.appeal(user, registration, form.reason.data)
        db.session.commit()
    except Invalid as exc:
        db.session.rollback()
        apply_domain_error(form, exc, free_text=("reason",))
        return render_registration(
            user, service.get_registration(user, registration_id), appeal_form=form, status=exc.status
        )
    except Conflict as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("events.registration", registration_id=registration_id))
    flash(_("申诉已提交，组织者或审核员处理后会通知你。"), "success")
    return redirect(url_for("events.registration", registration_id=registration_id))


@bp.post("/registrations/<int:registration_id>/appeal/decision")
@login_required
def decide_no_show(registration_id: int):
    """The organiser or a moderator decides a no-show appeal."""
    user = _me()
    registration = service.get_registration(user, registration_id)
    form = DecideForm()
    try:
        settlement.decide(user, registration, form.outcome.data or "", form.note.data)
        db.session.commit()
    except Invalid as exc:
        db.session.rollback()
        apply_domain_error(form, exc, free_text=("note",))
        return render_registration(
            user, service.get_registration(user, registration_id), decide_form=form, status=exc.status
        )
    except Conflict as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("events.registration", registration_id=registration_id))
    flash(_("申诉已处理，摊主会收到通知。"), "success")
    if service.can_manage(user, registration.event):
        return redirect(url_for("events.console", event_id=registration.event_id, _anchor="appeals"))
    return redirect(url_for("events.registration", registration_id=registration_id))


# --- my events ----------------------------------------------------------------------------------------


@bp.get("/me/events")
@login_required
def my():
    """My registrations (the next event first), the swap offers made to me and by me, and events I run."""
    user = _me()
    offers = swaps.for_user(user)
    return render_template(
        "events/my.html",
        registrations=service.my_registrations(user),
        received=offers["received"],
        sent=offers["sent"],
        organised=service.organised_by(user) if service.is_organiser(user) else [],
        is_organiser=service.is_organiser(user),
        now=utcnow(),
    )


# --- the organiser's pages ----------------------------------------------------------------------------------


def _event_input(form: EventForm) -> service.EventInput:
    return service.EventInput(
        title=form.title.data or "",
        kind=form.kind.data or "",
        description=form.description.data or "",
        venue=form.venue.data or "",
        district=form.district.data or "",
        starts_at=form.starts_at.data or "",
        ends_at=form.ends_at.data or "",
        registration_deadline=form.registration_deadline.data or "",
        stalls=form.stalls.data if form.stalls.data is not None else "",
        restriction=form.restriction.data or "",
        campus=form.campus.data or "",
    )


def _render_event_form(form, event=None, status: int = 200):
    return render_template("events/form.html", form=form, event=event), status


@bp.route("/events/new", methods=["GET", "POST"])
@login_required
def new():
    """An organiser announces an event; it is open for registration at once."""
    user = _me()
    if not service.is_organiser(user):
        raise Forbidden(_("只有活动组织者可以创建活动。"))
    form = EventForm()
    if request.method == "GET":
        return _render_event_form(form)
    try:
        event = service.create(user, _event_input(form))
        db.session.commit()
    except (Invalid, Conflict) as exc:
        db.session.rollback()
        apply_domain_error(form, exc)
        return _render_event_form(form, status=exc.status)
    flash(_("活动已发布，现在可以报名了。"), "success")
    return redirect(url_for("events.detail", event_id=event.id))


@bp.route("/events/<int:event_id>/edit", methods=["GET", "POST"])
@login_required
def edit(event_id: int):
    """The organiser changes the event; participants are told when the time or the place changes."""
    user = _me()
    event = service.get_managed(user, event_id)
    if event.status == "cancelled" or service.has_ended(event):
        flash(_("活动已取消或已结束，不能再修改。"), "error")
        return redirect(url_for("events.detail", event_id=event.id))
    form = EventForm()
    if request.method == "GET":
        for name in ("title", "kind", "description", "venue", "district", "restriction"):
            getattr(form, name).data = getattr(event, name)
        form.stalls.data = str(event.stalls)
        form.campus.data = event.campus or ""
        for name in ("starts_at", "ends_at", "registration_deadline"):
            getattr(form, name).data = _to_local(getattr(event, name))
        return _render_event_form(form, event)
    try:
        service.edit(user, event, _event_input(form))
        db.session.commit()
    except (Invalid, Conflict) as exc:
        db.session.rollback()
        apply_domain_error(form, exc)
        return _render_event_form(form, service.get(event_id), status=exc.status)
    flash(_("活动已更新。时间或地点有变化时，报名的人会收到通知。"), "success")
    return redirect(url_for("events.detail", event_id=event_id))


@bp.route("/events/<int:event_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(event_id: int):
    """GET: the confirmation page with the reason; POST: cancel (everyone registered is told why)."""
    user = _me()
    event = service.get_managed(user, event_id)
    if event.status == "cancelled":
        flash(_("活动已经取消了。"), "info")
        return redirect(url_for("events.detail", event_id=event.id))
    form = ReasonForm()
    if request.method == "GET":
        return render_template("events/cancel.html", event=event, form=form)
    try:
        service.cancel(user, event, form.reason.data)
        db.session.commit()
    except Invalid as exc:
        db.session.rollback()
        apply_domain_error(form, exc, free_text=("reason",))
        return render_template("events/cancel.html", event=service.get(event_id), form=form), exc.status
    except Conflict as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("events.detail", event_id=event_id))
    flash(_("活动已取消，报名的人都会收到通知和你写的原因。"), "success")
    return redirect(url_for("events.detail", event_id=event_id))


@bp.post("/events/<int:event_id>/registration/<any(open, close):state>")
@login_required
def registration_state(event_id: int, state: str):
    """Close registration early, or open it again before the deadline."""
    user = _me()
    event = service.get_managed(user, event_id)
    try:
        service.set_registration_open(user, event, state == "open")
        db.session.commit()
    except Conflict as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("events.console", event_id=event_id))
    flash(_("已重新开放报名。") if state == "open" else _("已截止报名。"), "success")
    return redirect(url_for("events.console", event_id=event_id))


@bp.get("/events/<int:event_id>/console")
@login_required
def console(event_id: int):
    """The organiser's console: counts, stallholders, waiting list, visitors, appeals, the summary."""
    user = _me()
    event = service.get_managed(user, event_id)
    groups = service.registrations(event)
    ended = service.has_ended(event)
    opens, closes = service.checkin_window(event)
    return render_template(
        "events/console.html",
        event=event,
        groups=groups,
        checked_in=sum(1 for key in ("stall", "visitor") for r in groups[key] if r.checked_in_at),
        appeals=settlement.pending_appeals(event),
        decide_form=DecideForm(),
        summary=summary.of(event) if ended else None,
        ended=ended,
        checkin_opens=opens,
        checkin_closes=closes,
        checkin_open=opens <= utcnow() <= closes and event.status != "cancelled",
        can_reopen=event.status == "closed" and utcnow() < event.registration_deadline,
        can_close=event.status == "open" and utcnow() < event.registration_deadline,
    )


def _render_checkin(event, form, *, done=None, error=None, status: int = 200):
    opens, closes = service.checkin_window(event)
    return (
        render_template(
            "events/checkin.html",
            event=event,
            form=form,
            done=done,
            error=error,
            recent=service.recent_checkins(event, RECENT_CHECKINS),
            checkin_opens=opens,
            checkin_closes=closes,
            checkin_open=opens <= utcnow() <= closes and event.status != "cancelled",
        ),
        status,
    )


@bp.route("/events/<int:event_id>/checkin", methods=["GET", "POST"])
@login_required
def checkin(event_id: int):
    """Check a participant in by their code (typed, or opened from their QR code with the code filled in)."""
    user = _me()
    event = service.get_managed(user, event_id)
    form = CheckinForm()
    if request.method == "GET":
        done = None
        done_id = request.args.get("done", "")
        if done_id.isascii() and done_id.isdigit() and len(done_id) < 11 and 0 < int(done_id) <= MAX_ID:
            found = db.session.get(Registration, int(done_id))
            if found is not None and found.event_id == event.id and found.checked_in_at is not None:
                done = found
        form.code.data = service.normalise_code(request.args.get("code"))[:20] if request.args.get("code") else ""
        return _render_checkin(event, form, done=done)
    try:
        registration = service.check_in(user, event, form.code.data)
        db.session.commit()
    except Invalid as exc:
        db.session.rollback()
        apply_domain_error(form, exc)
        return _render_checkin(service.get(event_id), form, status=exc.status)
    except (NotFound, Conflict) as exc:
        db.session.rollback()
        return _render_checkin(service.get(event_id), form, error=str(exc.message), status=exc.status)
    return redirect(url_for("events.checkin", event_id=event_id, done=registration.id))


# --- listings brought to the event ------------------------------------------------------------------------


def _render_attach(user, event, form, status: int = 200):
    return (
        render_template(
            "events/attach.html",
            event=event,
            form=form,
            attachable=service.attachable(user, event),
            attached=service.attached(user, event),
            checked=set(_ids("listing_ids")) if request.method == "POST" else set(),
            detach_form=ConfirmForm(),
            max_attached=service.MAX_ATTACHED,
        ),
        status,
    )


@bp.route("/events/<int:event_id>/attach", methods=["GET", "POST"])
@login_required
def attach(event_id: int):
    """A stallholder brings their active listings to the event (the "at the event" badge)."""
    user = _me()
    event = service.get(event_id)
    reason = service.why_not_bring(user, event)
    if reason:
        flash(reason, "error")
        return redirect(url_for("events.detail", event_id=event.id))
    form = ListingsForm()
    if request.method == "GET":
        return _render_attach(user, event, form)
    try:
        brought = service.attach(user, event, _ids("listing_ids"))
        db.session.commit()
    except Invalid as exc:
        db.session.rollback()
        apply_domain_error(form, exc)
        event = service.get(event_id)
        return _render_attach(user, event, form, status=exc.status)
    except Forbidden as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("events.detail", event_id=event_id))
    flash(_("已把 %(n)s 件商品带到活动。", n=len(brought)), "success")
    return redirect(url_for("events.attach", event_id=event_id))


@bp.post("/listings/<int:listing_id>/detach")
@login_required
def detach(listing_id: int):
    """The seller takes a listing back from its event (it stays on sale)."""
    user = _me()
    listing = listings.get_visible(user, listing_id)
    event_id = listing.event_id
    try:
        service.detach(user, listing)
        db.session.commit()
    except Conflict as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("listings.detail", listing_id=listing_id))
    flash(_("已把“%(title)s”从活动取回，它仍在正常出售。", title=listing.title), "success")
    if event_id is not None:
        return redirect(url_for("events.attach", event_id=event_id))
    return redirect(url_for("listings.detail", listing_id=listing_id))


# --- swaps ----------------------------------------------------------------------------------------------


def _my_swap_listings(user, event) -> list:
    """My active listings that I may offer: those not at this event, and those I brought to it."""
    here = [listing for listing in service.attached(user, event) if listing.status == "active"]
    return here + service.attachable(user, event)


def _render_offer(user, event, want, form, status: int = 200):
    return (
        render_template(
            "events/offer.html",
            event=event,
            want=want,
            form=form,
            mine=_my_swap_listings(user, event),
            checked=set(_ids("offer_listing_ids")) if request.method == "POST" else set(),
            verified=listings.verified_sellers([want]),
            max_offered=swaps.MAX_OFFERED,
        ),
        status,
    )


@bp.route("/events/<int:event_id>/swap/<int:listing_id>", methods=["GET", "POST"])
@login_required
def offer_form(event_id: int, listing_id: int):
    """Offer one or several of my listings for a listing at the event."""
    user = _me()
    event = service.get(event_id)
    want = listings.get_visible(user, listing_id)
    if want.event_id != event.id:
        raise NotFound(_("这件商品不在本活动中。"))
    if want.seller_id == user.id:
        flash(_("这是你自己的商品，不能和自己交换。"), "error")
        return redirect(url_for("events.detail", event_id=event.id))
    if not service.is_live(event):
        flash(_("活动已取消或已结束，不能再换物。"), "error")
        return redirect(url_for("events.detail", event_id=event.id))
    registration = service.registration_of(user, event)
    if registration is None or registration.status != "registered":
        raise Forbidden(_("只有已报名（不在候补名单上）的参加者可以在活动中换物。"))
    form = OfferForm()
    if request.method == "GET":
        return _render_offer(user, event, want, form)
    try:
        offer = swaps.make_offer(user, event, want.id, _ids("offer_listing_ids"), form.message.data)
        db.session.commit()
    except (Invalid, Conflict) as exc:
        db.session.rollback()
        apply_domain_error(form, exc, free_text=("message",))
        event = service.get(event_id)
        want = listings.get_visible(user, listing_id)
        return _render_offer(user, event, want, form, status=exc.status)
    flash(_("交换请求已发给对方，对方答复后你会收到通知。"), "success")
    return redirect(url_for("events.swap", offer_id=offer.id))


@bp.get("/swaps/<int:offer_id>")
@login_required
def swap(offer_id: int):
    """A swap offer: both sides' listings, the status, and the answer (or, once accepted, the orders)."""
    user = _me()
    offer = swaps.get(user, offer_id)
    offered = offer.offered_listings
    return render_template(
        "events/swap.html",
        offer=offer,
        offered=offered,
        orders=swaps.orders_of(offer) if offer.status == "accepted" else [],
        verified=listings.verified_sellers([offer.want_listing, *offered]),
        form=ConfirmForm(),
        is_owner=offer.owner_id == user.id,
        is_offerer=offer.offerer_id == user.id,
    )


@bp.post("/swaps/<int:offer_id>/<any(accept, decline, withdraw):action>")
@login_required
def swap_action(offer_id: int, action: str):
    """Accept or decline (the owner), or withdraw (the offerer)."""
    user = _me()
    offer = swaps.get(user, offer_id)
    try:
        if action == "accept":
            swaps.accept(user, offer)
        elif action == "decline":
            swaps.decline(user, offer)
        else:
            swaps.withdraw(user, offer)
        db.session.commit()
    except Conflict as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("events.swap", offer_id=offer_id))
    flash(str(SWAP_DONE[action]), "success")
    return redirect(url_for("events.swap", offer_id=offer_id))
