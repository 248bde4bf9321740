"""Account pages: register, log in, log out, change password."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user

from marketplace.accounts import service
from marketplace.accounts.admin import bp as admin_bp
from marketplace.accounts.forms import ChangePasswordForm, LoginForm, RegisterForm
from marketplace.accounts.models import ROLE_LABELS
from marketplace.db import db, read_only
from marketplace.errors import DomainError
from marketplace.extensions import login_ip_limit, login_manager, login_user_limit, register_limit
from marketplace.forms_util import apply_domain_error
from marketplace.security import safe_next

bp = Blueprint("accounts", __name__)
blueprints = [bp, admin_bp]

login_manager.login_view = "accounts.login"
login_manager.login_message = _l("请先登录。")
login_manager.login_message_category = "info"
login_manager.session_protection = "basic"


@bp.app_template_global()
def role_label(role: str) -> str:
    """A role's name in the user's language."""
    return str(ROLE_LABELS.get(role, role))


@login_manager.user_loader
def _load_user(session_id: str):
    return service.load_session_user(session_id)


def _fresh_session() -> None:
    """Start a new session (new CSRF token) when who is logged in changes; keep the language."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


@bp.route("/register", methods=["GET", "POST"])
@register_limit
def register():
    """Create an account, then log straight in."""
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = service.register(form.username.data, form.password.data, form.display_name.data)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            apply_domain_error(form, exc)
        else:
            _fresh_session()
            login_user(user)
            flash(_("注册成功，欢迎！完成实名认证后即可发布和购买。"), "success")
            return redirect(url_for("identity.verify"))
    return render_template("accounts/register.html", form=form), 200 if request.method == "GET" else 422


@bp.route("/login", methods=["GET", "POST"])
@login_ip_limit
@login_user_limit
@read_only
def login():
    """Log in with username and password; `next` may only point at our own pages."""
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        try:
            user = service.authenticate(form.username.data, form.password.data)
        except DomainError as exc:
            form.password.data = ""
            flash(str(exc.message), "error")
        else:
            _fresh_session()
            login_user(user)
            flash(_("已登录。"), "success")
            return redirect(safe_next(form.next.data, url_for("home.index")))
    status = 200 if request.method == "GET" else 422
    return render_template("accounts/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    """Log out everywhere: every session of this user ends."""
    service.end_all_sessions(current_user._get_current_object())
    db.session.commit()
    logout_user()
    _fresh_session()
    flash(_("已退出登录，所有设备上的会话均已失效。"), "success")
    return redirect(url_for("home.index"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change the password; every other session ends, this one continues."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            service.change_password(user, form.current_password.data, form.new_password.data)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            apply_domain_error(form, exc)
        else:
            login_user(user)
            flash(_("密码已修改，其他设备上的会话已失效。"), "success")
            return redirect(url_for("identity.profile"))
    return render_template("accounts/change_password.html", form=form), 200 if request.method == "GET" else 422
