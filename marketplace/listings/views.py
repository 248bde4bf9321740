"""Listing pages: sell, the listing, edit, withdraw and sold (confirmed on pages of their own),
my listings, search, and the photos themselves."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup

from marketplace import MAX_ID
from marketplace.accounts.forms import ConfirmForm
from marketplace.accounts.models import User
from marketplace.credit.policy import BAND_LABELS, band
from marketplace.db import db
from marketplace.errors import DomainError, Forbidden, Invalid
from marketplace.extensions import listing_limit
from marketplace.forms_util import apply_domain_error
from marketplace.grading import engine as grading
from marketplace.grading.forms import parse_form
from marketplace.identity.places import DISTRICTS, district_label
from marketplace.identity.privacy import shown_name
from marketplace.identity.service import public_profile
from marketplace.listings import fields, photos, service
from marketplace.listings.forms import ListingForm
from marketplace.listings.models import CATEGORIES, MAX_PHOTOS, ListingPhoto
from marketplace.listings.search import SORTS, SearchPage, SearchParams, highlight, plain_text, search_listings
from marketplace.pagecache import public_page

bp = Blueprint("listings", __name__)

# A form may carry nine photos of up to 8 MB each (files are spooled to disk, not held in memory).
UPLOAD_ENDPOINTS = {"listings.sell", "listings.edit"}
UPLOAD_REQUEST_MAX = MAX_PHOTOS * photos.MAX_BYTES + 1024 * 1024
SEARCH_PAGE = 20
SNIPPET = 60  # characters of description shown around the first match
SEARCH_FILTERS = ("q", "category", "grade", "district", "min_price", "max_price", "seller")  # sort is added apart


MINE_PAGE = 30

# Called with the listing's id before its page is made (orders settle what is overdue first).
SHOW_HOOKS: list[Callable[[int], None]] = []


def before_show(hook: Callable[[int], None]) -> Callable[[int], None]:
    """Register a hook run at the start of the listing page (not when a kept copy is served)."""
    if hook not in SHOW_HOOKS:
        SHOW_HOOKS.append(hook)
    return hook


@bp.url_value_preprocessor
def _allow_photo_uploads(endpoint, _values):
    # Runs before the app's before_request hooks (CSRF, request screening) read the body.
    if endpoint in UPLOAD_ENDPOINTS:
        request.max_content_length = UPLOAD_REQUEST_MAX


@bp.record_once
def _template_globals(state) -> None:
    # Globals, not a context processor: the card macros are imported without the page's context.
    state.app.jinja_env.globals.update(
        category_labels=service.CATEGORY_LABELS,
        category_glyphs=service.CATEGORY_GLYPHS,
        listing_status_labels=service.STATUS_LABELS,
        district_label=district_label,
        credit_band_labels=BAND_LABELS,
        credit_band=lambda user: band(user.credit_score),
        photo_url=photo_url,
    )


def photo_url(photo, thumb: bool = False) -> str:
    """The URL of a listing photo or of its thumbnail."""
    return url_for("listings.photo", name=f"{photo.stem}.thumb" if thumb else photo.stem)


@bp.app_template_filter("yuan")
def _yuan(fen: int) -> str:
    return fields.format_price(fen)


def _me():
    return current_user._get_current_object() if current_user.is_authenticated else None


# --- selling -------------------------------------------------------------------------


def _form_data(form: ListingForm, category: str, answers: dict | None) -> service.ListingInput:
    return service.ListingInput(
        title=form.title.data or "",
        description=form.description.data or "",
        category=category,
        price=form.price.data or "",
        district=form.district.data or "",
        grading=answers,
    )


def _render_form(form, *, category, standard, answers, errors, listing=None, status=200, reselect=False):
    return (
        render_template(
            "listings/form.html",
            form=form,
            category=category,
            standard=standard,
            answers=answers or {},
            checklist_errors=errors,
            listing=listing,
            reselect_photos=reselect,
            confirm_form=ConfirmForm(),
            max_photos=MAX_PHOTOS,
        ),
        status,
    )


def _split_errors(exc: DomainError) -> tuple[DomainError, dict[str, list[str]]]:
    """The checklist's errors (`grading.<key>`, shown beside each item) apart from the form's own."""
    checklist = {k: v for k, v in exc.errors.items() if k.startswith("grading.")}
    exc.errors = {k: v for k, v in exc.errors.items() if not k.startswith("grading.")}
    return exc, checklist


def _uploads_given(form: ListingForm) -> bool:
    return any(getattr(f, "filename", "") for f in (form.photos.data or []))


def _save(form, write, existing: int = 0):
    """Run `write()` (create or edit) and attach the form's photos in one transaction.

    `existing` is how many photos the listing already has: uploads beyond the room
    left are refused before any is decoded. Photos are checked first but a bad one does not stop the other fields being
    checked: the page then shows every problem at once, and nothing is stored.
    Returns (listing, None) or (None, the DomainError to show).
    """
    photo_error, prepared, stems = None, [], []
    try:
        prepared = photos.prepare_all(form.photos.data or [], room=MAX_PHOTOS - existing)
    except Invalid as exc:
        photo_error = exc
    try:
        saved = write()
        if photo_error is not None:
            raise photo_error
        if prepared:
            stems = photos.add_photos(_me(), saved, prepared)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        photos.delete_files(stems)
        if photo_error is not None and exc is not photo_error:
            exc.errors.setdefault("photos", []).extend(photo_error.errors["photos"])
        return None, exc
    except Exception:
        photos.delete_files(stems)  # the files of a transaction that did not commit
        raise
    return saved, None


@bp.route("/sell", methods=["GET", "POST"])
@login_required
@listing_limit
def sell():
    """Sell: first the category, then the form for it with the category's checklist."""
    user = _me()
    try:
        service.check_can_list(user)
    except Forbidden as exc:
        return render_template("listings/cannot_sell.html", reason=exc.message), 403
    category = request.values.get("category", "")
    if category not in CATEGORIES:
        status = 200 if request.method == "GET" else 422
        return render_template("listings/sell_category.html"), status
    standard = grading.get_standard(category)
    form = ListingForm()
    if request.method == "GET":
        form.category.data = category
        return _render_form(form, category=category, standard=standard, answers={}, errors={})
    answers = parse_form(standard, request.form) if standard is not None else None
    if not form.validate_on_submit():
        flash(_("表单已过期，请重新提交。"), "error")
        return _render_form(form, category=category, standard=standard, answers=answers, errors={}, status=400)
    listing, error = _save(form, lambda: service.create(user, _form_data(form, category, answers)))
    if error is not None:
        error, checklist = _split_errors(error)
        apply_domain_error(form, error)
        return _render_form(
            form,
            category=category,
            standard=standard,
            answers=answers,
            errors=checklist,
            status=error.status,
            reselect=_uploads_given(form),
        )
    flash(_("已发布。等级由检查表算出：买家会看到你的每一项回答。"), "success")
    return redirect(url_for("listings.detail", listing_id=listing.id))


# --- the listing ---------------------------------------------------------------------


@bp.get("/listings/<int:listing_id>")
@public_page
def detail(listing_id: int):
    """A listing: price, grade with the checklist answers, warnings, photos, the seller."""
    for hook in SHOW_HOOKS:
        hook(listing_id)
    viewer = _me()
    listing = service.get_visible(viewer, listing_id)
    standard = grading.get_standard(listing.category)
    warnings = grading.assess(listing.category, listing.grading).warnings if standard and listing.grading else []
    if not warnings and listing.recycle_only:
        warnings = [_("这件燃气或热水器具已超过安全使用年限，只能免费交给回收，不能作为可用商品使用。")]
    elif not warnings and listing.safety_warning:
        warnings = [_("这件家电已超过安全使用年限，老化可能带来漏电、起火等隐患。")]
    answers = service.visible_answers(viewer, listing)
    can_relist = service.can_relist(viewer, listing)
    return render_template(
        "listings/detail.html",
        listing=listing,
        standard=standard,
        answers=answers,
        masked_identifiers=answers != listing.grading,
        warnings=warnings,
        description=Markup(fields.sanitise_stored(listing.description)),  # noqa: S704 - nh3's output
        seller=public_profile(listing.seller_id),
        seller_name=shown_name(listing.seller),
        owner=service.is_owner(viewer, listing),
        can_edit=service.can_edit(viewer, listing),
        can_withdraw=service.can_withdraw(viewer, listing),
        can_mark_sold=service.can_mark_sold(viewer, listing),
        can_relist=can_relist,
        can_remove=service.can_remove(viewer, listing) and not service.is_owner(viewer, listing),
        # Only when shown: a form brings a CSRF token, which keeps the page out of the page cache.
        relist_form=ConfirmForm() if can_relist else None,
    )


@bp.route("/listings/<int:listing_id>/edit", methods=["GET", "POST"])
@login_required
def edit(listing_id: int):
    """The seller's edit form: fields, checklist (graded again) and photos."""
    user = _me()
    listing = service.get_for_edit(user, listing_id)
    standard = grading.get_standard(listing.category)
    form = ListingForm()
    if request.method == "GET":
        form.title.data = listing.title
        form.description.data = fields.description_for_editing(listing.description)
        form.price.data = fields.yuan_text(listing.price_fen)
        form.district.data = listing.district
        return _render_form(
            form, category=listing.category, standard=standard, answers=listing.grading, errors={}, listing=listing
        )
    answers = parse_form(standard, request.form) if standard is not None else None
    if not form.validate_on_submit():
        flash(_("表单已过期，请重新提交。"), "error")
        return _render_form(
            form, category=listing.category, standard=standard, answers=answers, errors={}, listing=listing, status=400
        )
    saved, error = _save(
        form,
        lambda: service.edit(user, listing, _form_data(form, listing.category, answers)),
        existing=len(listing.photos),
    )
    if error is not None:
        error, checklist = _split_errors(error)
        apply_domain_error(form, error)
        listing = service.get_visible(user, listing_id)
        return _render_form(
            form,
            category=listing.category,
            standard=standard,
            answers=answers,
            errors=checklist,
            listing=listing,
            status=error.status,
            reselect=_uploads_given(form),
        )
    flash(_("已保存修改。"), "success")
    return redirect(url_for("listings.detail", listing_id=saved.id))


def _confirm_page(listing, action: str, status: int = 200):
    return render_template("listings/confirm.html", listing=listing, action=action, form=ConfirmForm()), status


def _status_change(listing_id: int, action: str, allowed, change, done: str):
    user = _me()
    listing = service.get_visible(user, listing_id)
    if not service.is_owner(user, listing) and action != "remove":
        raise Forbidden(_("只有卖家本人可以进行此操作。"))
    if request.method == "GET":
        if not allowed(user, listing):
            flash(_("该商品%(status)s，不能进行此操作。", status=service.STATUS_LABELS[listing.status]), "error")
            return redirect(url_for("listings.detail", listing_id=listing.id))
        return _confirm_page(listing, action)
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash(_("表单已过期，请重新提交。"), "error")
        return _confirm_page(listing, action, 400)
    try:
        change(user, listing)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
    else:
        flash(done, "success")
    return redirect(url_for("listings.detail", listing_id=listing_id))


@bp.route("/listings/<int:listing_id>/withdraw", methods=["GET", "POST"])
@login_required
def withdraw(listing_id: int):
    """Take a listing off sale, after a confirmation page."""
    done = _("已下架。随时可以重新上架。")
    return _status_change(listing_id, "withdraw", service.can_withdraw, service.withdraw, done)


@bp.route("/listings/<int:listing_id>/sold", methods=["GET", "POST"])
@login_required
def mark_sold(listing_id: int):
    """Mark a listing sold, after a confirmation page."""
    return _status_change(listing_id, "sold", service.can_mark_sold, service.mark_sold, _("已标记为售出。"))


@bp.route("/listings/<int:listing_id>/remove", methods=["GET", "POST"])
@login_required
def remove(listing_id: int):
    """A moderator takes a listing down, after a confirmation page (audited)."""
    user = _me()
    if not service.is_moderator(user):
        raise Forbidden(_("只有审核员可以移除商品。"))
    return _status_change(listing_id, "remove", service.can_remove, service.delete, _("已移除该商品。"))


@bp.post("/listings/<int:listing_id>/relist")
@login_required
def relist(listing_id: int):
    """Put a withdrawn listing back on sale (not destructive: no confirmation page)."""
    user = _me()
    listing = service.get_visible(user, listing_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            service.relist(user, listing)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            flash(_("已重新上架。"), "success")
    else:
        flash(_("表单已过期，请重新提交。"), "error")
    return redirect(url_for("listings.detail", listing_id=listing_id))


# --- photos on the edit page ---------------------------------------------------------------


@bp.post("/listings/<int:listing_id>/photos/<int:photo_id>/move")
@login_required
def move_photo(listing_id: int, photo_id: int):
    """Move a photo one place earlier or later."""
    user = _me()
    listing = service.get_for_edit(user, listing_id)
    offset = -1 if request.form.get("direction") == "up" else 1
    if ConfirmForm().validate_on_submit():
        photos.move_photo(user, listing, photo_id, offset)
        db.session.commit()
    return redirect(url_for("listings.edit", listing_id=listing_id) + "#photos")


@bp.route("/listings/<int:listing_id>/photos/<int:photo_id>/delete", methods=["GET", "POST"])
@login_required
def delete_photo(listing_id: int, photo_id: int):
    """Delete a photo, after a confirmation page."""
    user = _me()
    listing = service.get_for_edit(user, listing_id)
    photo = next((p for p in listing.photos if p.id == photo_id), None)
    if photo is None:
        abort(404)
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        stem = photos.remove_photo(user, listing, photo_id)
        db.session.commit()
        photos.delete_files([stem])
        flash(_("已删除这张照片。"), "success")
        return redirect(url_for("listings.edit", listing_id=listing_id) + "#photos")
    return render_template("listings/confirm.html", listing=listing, action="delete_photo", photo=photo, form=form)


@bp.get("/photos/<name>.jpg")
def photo(name: str):
    """A listing photo (`<stem>.jpg`) or its thumbnail (`<stem>.thumb.jpg`)."""
    stem, _sep, variant = name.partition(".")
    if variant not in ("", "thumb") or not photos.STEM.fullmatch(stem):
        abort(404)
    row = db.session.scalar(db.select(ListingPhoto).where(ListingPhoto.stem == stem))
    if row is None or not service.can_view(_me(), row.listing):
        abort(404)
    path = photos.path_for(stem, thumb=variant == "thumb")
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype="image/jpeg", conditional=True, etag=True)
    public = row.listing.status in service.PUBLIC_STATUSES
    # Short public caching: a listing taken down disappears from caches within minutes.
    response.headers["Cache-Control"] = "public, max-age=600" if public else "private, no-store"
    return response


# --- my listings, search ----------------------------------------------------------------------


@bp.get("/my/listings")
@login_required
def mine():
    """The seller's own listings, every status."""
    user = _me()
    before = request.args.get("before", "")
    before_id = int(before) if before.isascii() and before.isdigit() and len(before) < 11 else None
    listings = service.seller_listings(user, before_id=before_id, limit=MINE_PAGE + 1)
    more = len(listings) > MINE_PAGE
    listings = listings[:MINE_PAGE]
    return render_template(
        "listings/mine.html",
        listings=listings,
        next_before=listings[-1].id if more else None,
        first_page=before_id is None,
        verified=service.verified_sellers(listings),
        can_list=service.can_list(user),
    )


def _price_filter(name: str, errors: dict[str, list[str]]) -> int | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return fields.parse_price(text)
    except Invalid as exc:
        errors[name] = exc.errors["price"]
        return None


def _seller_filter(user_id: int | None):
    # "This seller's listings" (from a profile page): an unknown or closed account filters nothing.
    if user_id is None or not 0 < user_id <= MAX_ID:
        return None
    user = db.session.get(User, user_id)
    return user if user is not None and user.status != "closed" else None


@bp.get("/search")
@public_page
def search():
    """Search and browse: words, filters, sorts, and pages by cursor."""
    args = request.args
    errors: dict[str, list[str]] = {}
    q = " ".join(args.get("q", "").split())[:100]
    category = args.get("category") if args.get("category") in CATEGORIES else None
    standard = grading.get_standard(category) if category else None
    grade_codes = [g.code for g in standard.grades] if standard is not None else []
    grade = args.get("grade") if args.get("grade") in grade_codes else None
    district = args.get("district") if args.get("district") in DISTRICTS else None
    min_fen = _price_filter("min_price", errors)
    max_fen = _price_filter("max_price", errors)
    seller = _seller_filter(args.get("seller", type=int))
    sort = args.get("sort") if args.get("sort") in SORTS else ("relevance" if q else "newest")
    if sort == "relevance" and not q:
        sort = "newest"
    cursor = args.get("cursor") or None
    params = dict(
        q=q,
        category=category,
        grade=grade,
        district=district,
        min_price_fen=min_fen,
        max_price_fen=max_fen,
        seller_id=seller.id if seller is not None else None,
        sort=sort,
        limit=SEARCH_PAGE,
    )
    try:
        page = search_listings(SearchParams(cursor=cursor, **params))
    except Invalid as exc:
        if "cursor" in exc.errors:
            flash(_("翻页链接已失效，已回到第一页。"), "info")
        for name, messages in exc.errors.items():
            if name != "cursor":
                errors.setdefault(name.removesuffix("_fen"), []).extend(str(m) for m in messages)
        cursor = None
        page = search_listings(SearchParams(**params)) if not errors else SearchPage([], None)
    # Only the filters this page knows go back into its links: anything else could be one of
    # url_for's own arguments (endpoint, _method, _external, _scheme, _anchor).
    filters = {k: args[k] for k in SEARCH_FILTERS if args.get(k)}
    return render_template(
        "listings/search.html",
        q=q,
        page=page,
        items=page.items,
        verified=service.verified_sellers(page.items),
        category=category,
        standard=standard,
        grade=grade,
        district=district,
        sort=sort,
        sorts=SORTS if q else SORTS[1:],
        errors=errors,
        filtered=any((category, grade, district, min_fen is not None, max_fen is not None, seller)),
        seller=seller,
        paged=cursor is not None,
        next_url=url_for("listings.search", **filters, sort=sort, cursor=page.next_cursor)
        if page.next_cursor
        else None,
        first_url=url_for("listings.search", **filters, sort=sort),
        districts=DISTRICTS,
        mark=(lambda text: highlight(text, q)) if q else None,
        snippet=(lambda listing: highlight(plain_text(listing.description), q, max_len=SNIPPET)) if q else None,
    )
