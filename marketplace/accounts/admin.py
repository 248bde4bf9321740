"""Admin pages: users and their roles."""

from __future__ import annotations

from functools import wraps

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace.accounts import service
from marketplace.accounts.forms import ConfirmForm, RoleForm
from marketplace.accounts.models import ROLE_LABELS, ROLES, User
from marketplace.db import db
from marketplace.errors import DomainError

bp = Blueprint("admin", __name__, url_prefix="/admin")
PAGE_SIZE = 30


def admin_required(view):
    """Only admins reach the view; others get 403."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.has_role("admin"):
            abort(403)
        return view(*args, **kwargs)

    return wrapped


@bp.get("/users")
@admin_required
def users():
    """Users by username, filtered by a username prefix, paged by keyset."""
    prefix = service.normalise_username(request.args.get("q", ""))[:32]
    after = request.args.get("after", "")[:32]
    query = sa.select(User).order_by(User.username).limit(PAGE_SIZE + 1)
    if prefix:
        # A range on the unique index, not a substring scan.
        query = query.where(User.username >= prefix, User.username < prefix + "\U0010ffff")
    if after:
        query = query.where(User.username > after)
    rows = db.session.scalars(query).all()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    next_after = rows[-1].username if more else None
    return render_template("accounts/admin_users.html", users=rows, q=prefix, next_after=next_after)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_required
def user_detail(user_id: int):
    """One user's roles; granting happens here, revoking asks for confirmation first."""
    user = db.get_or_404(User, user_id)
    form = RoleForm()
    form.role.choices = [(r, str(ROLE_LABELS[r])) for r in ROLES if not user.has_role(r)]
    if form.validate_on_submit():
        try:
            service.grant_role(current_user._get_current_object(), user, form.role.data)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            flash(_("已授予角色 %(r)s。", r=form.role.data), "success")
            return redirect(url_for("admin.user_detail", user_id=user.id))
    status = 422 if form.errors else 200
    return render_template("accounts/admin_user.html", user=user, form=form), status


@bp.route("/users/<int:user_id>/roles/<role>/revoke", methods=["GET", "POST"])
@admin_required
def revoke(user_id: int, role: str):
    """Confirm, then take a role away."""
    user = db.get_or_404(User, user_id)
    if not user.has_role(role):
        abort(404)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            service.revoke_role(current_user._get_current_object(), user, role)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
        else:
            flash(_("已收回角色 %(r)s。", r=role), "success")
        return redirect(url_for("admin.user_detail", user_id=user.id))
    return render_template("accounts/admin_revoke.html", user=user, role=role, form=form)
