"""Account operations: registration, authentication, sessions, roles, API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from datetime import datetime, timedelta
from functools import lru_cache

import sqlalchemy as sa
from flask_babel import gettext as _

from marketplace.accounts.models import ROLES, ApiToken, User, UserRole
from marketplace.accounts.passwords import hash_password, password_problems, verify_password
from marketplace.audit.service import record
from marketplace.db import db, utcnow
from marketplace.errors import Conflict, Forbidden, Invalid

# Names the site itself shows for closed accounts and staff: nobody may pose as them.
RESERVED_DISPLAY_NAMES = frozenset({"已注销用户", "平台管理员", "管理员", "客服", "官方"})
USERNAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{2,31}$")


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Checked against when the username is unknown, so both paths cost one scrypt.
    return hash_password(secrets.token_hex(16))


def normalise_username(username: str) -> str:
    """Usernames are case-insensitive: stored and compared lower-cased."""
    return (username or "").strip().lower()


def find_user(username: str) -> User | None:
    """The user with this username, if any."""
    return db.session.scalar(sa.select(User).where(User.username == normalise_username(username)))


def register(username: str, password: str, display_name: str) -> User:
    """Create an account with the resident role; Invalid or Conflict on bad input."""
    username = normalise_username(username)
    display_name = (display_name or "").strip()
    errors: dict[str, list[str]] = {}
    if not USERNAME_RE.match(username):
        errors["username"] = [_("用户名为 3–32 个字母、数字、下划线、点或连字符")]
    if not 1 <= len(display_name) <= 40:
        errors["display_name"] = [_("昵称为 1–40 个字符")]
    elif any(unicodedata.category(c) in ("Cc", "Cf") for c in display_name):
        errors["display_name"] = [_("昵称不能包含不可见字符")]
    elif display_name in RESERVED_DISPLAY_NAMES:
        errors["display_name"] = [_("这个昵称留作系统使用，请换一个")]
    problems = password_problems(password or "", username)
    if problems:
        errors["password"] = problems
    if errors:
        raise Invalid(_("注册信息有误，请检查标出的字段。"), errors=errors)
    # Hashed before the first query: on SQLite a writing request holds the write lock from there on.
    password_hash = hash_password(password)
    if find_user(username) is not None:
        raise Conflict(_("用户名已被占用。"), errors={"username": [_("用户名已被占用")]})
    user = User(username=username, display_name=display_name, password_hash=password_hash)
    user.role_rows.append(UserRole(role="resident"))
    try:
        # Added inside the savepoint: a racing registration's UNIQUE violation rolls back
        # only this insert and becomes a Conflict.
        with db.session.begin_nested():
            db.session.add(user)
            db.session.flush()
    except sa.exc.IntegrityError:
        raise Conflict(_("用户名已被占用。"), errors={"username": [_("用户名已被占用")]}) from None
    return user


def authenticate(username: str, password: str) -> User:
    """Return the user for these credentials; Invalid with one vague message otherwise."""
    user = find_user(username)
    if user is None:
        verify_password(_dummy_hash(), password or "")
        raise Invalid(_("用户名或密码不正确。"))
    if not verify_password(user.password_hash, password or ""):
        raise Invalid(_("用户名或密码不正确。"))
    if user.status != "active":
        raise Forbidden(_("该账户已停用或注销，无法登录。"))
    return user


def end_all_sessions(user: User) -> None:
    """Invalidate every browser session and API token of the user."""
    user.session_version += 1
    db.session.execute(
        sa.update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    db.session.flush()


def change_password(user: User, current: str, new: str) -> None:
    """Change the password after checking the current one; ends every other session."""
    if not verify_password(user.password_hash, current or ""):
        raise Invalid(_("当前密码不正确。"), errors={"current_password": [_("当前密码不正确")]})
    problems = password_problems(new or "", user.username)
    if problems:
        raise Invalid(_("新密码不符合要求。"), errors={"new_password": problems})
    user.password_hash = hash_password(new)
    end_all_sessions(user)
    record("account.password_changed", actor=user, subject_type="user", subject_id=user.id)


def set_status(actor: User | None, user: User, status: str, reason: str) -> None:
    """Suspend, reactivate or close an account; suspension and closing end every session."""
    if status not in ("active", "suspended", "closed"):
        raise Invalid(_("未知的账户状态。"))
    if actor is not None and actor.id != user.id and not actor.has_role("admin", "moderator"):
        raise Forbidden(_("只有管理员或审核员可以停用账户。"))
    if status != "closed" and not (reason or "").strip():
        raise Invalid(_("请写明理由：账户的主人会看到它。"), errors={"reason": [_("请填写理由")]})
    previous = user.status
    user.status = status
    if status != "active":
        end_all_sessions(user)
    record(
        f"account.{status}",
        actor=actor,
        subject_type="user",
        subject_id=user.id,
        data={"from": previous, "to": status, "reason": reason},
    )


def grant_role(actor: User | None, user: User, role: str) -> None:
    """Give `user` a role (audited); granting a held role changes nothing."""
    if role not in ROLES:
        raise Invalid(_("未知角色：%(r)s", r=role), errors={"role": [_("未知角色")]})
    if actor is not None and not actor.has_role("admin"):
        raise Forbidden(_("只有管理员可以授予角色。"))
    if user.has_role(role):
        return
    user.role_rows.append(UserRole(role=role))
    db.session.flush()
    record("role.granted", actor=actor, subject_type="user", subject_id=user.id, data={"role": role})


def revoke_role(actor: User | None, user: User, role: str) -> None:
    """Take a role away (audited)."""
    if actor is not None and not actor.has_role("admin"):
        raise Forbidden(_("只有管理员可以收回角色。"))
    if role == "admin" and user.has_role("admin"):
        admins = db.session.scalar(sa.select(sa.func.count()).select_from(UserRole).where(UserRole.role == "admin"))
        if admins <= 1:
            raise Conflict(_("这是最后一位管理员，不能收回其管理员角色。"))
    for row in list(user.role_rows):
        if row.role == role:
            user.role_rows.remove(row)
            db.session.flush()
            record("role.revoked", actor=actor, subject_type="user", subject_id=user.id, data={"role": role})


def load_session_user(session_id: str) -> User | None:
    """Flask-Login loader: `id:version`, refused once the version moved on or the account stopped."""
    user_id, _sep, version = (session_id or "").partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.session_version != int(version) or user.status != "active":
        return None
    return user


def _token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(user: User, ttl: timedelta) -> tuple[str, ApiToken]:
    """Create a bearer token; the raw value is returned once and only its hash is kept."""
    raw = "mp_" + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, token_hash=_token_digest(raw), expires_at=utcnow() + ttl)
    db.session.add(token)
    db.session.flush()
    return raw, token


def user_for_token(raw: str) -> User | None:
    """The active user a live token belongs to, or None."""
    if len(raw) > 200:
        return None
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == _token_digest(raw)))
    now: datetime = utcnow()
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        return None
    if token.user.status != "active":
        return None
    return token.user


def revoke_token(raw: str) -> bool:
    """Revoke a token; False if it was unknown or already revoked."""
    result = db.session.execute(
        sa.update(ApiToken)
        .where(ApiToken.token_hash == _token_digest(raw), ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return result.rowcount == 1
