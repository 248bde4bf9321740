"""A person's rights over their data: see it, download it, close the account; and the audited reveal.

Closing an account erases the encrypted name, ID number, phone, student number and
credit code of every request and pseudonymises the account (display name
"已注销用户", username `closed~<id>`); orders, ratings and credit history stay,
attached to the pseudonymous account (E-Commerce Law Art. 31 keeps trade records
for three years).

The blind index of a *verified* identity is kept after closing. It is a keyed
HMAC: without the key in instance/ it reveals nothing, and even with the key it
only answers "was this ID number verified here?". Keeping it is what makes "one
identity, one account" hold over time: otherwise closing an account would be a way
to shed a black-list entry or a bad credit history and start again under the same
identity. Such a person is told the identity is taken and can ask the operator,
who decides case by case. A request still pending at closing is withdrawn and its
index dropped, since it was never verified.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import sqlalchemy as sa
from flask_babel import gettext as _

from marketplace.accounts.models import User
from marketplace.accounts.passwords import hash_password, verify_password
from marketplace.accounts.service import set_status
from marketplace.audit.models import AuditEntry
from marketplace.audit.service import record
from marketplace.db import db, utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.identity.crypto import crypto
from marketplace.identity.masking import looks_like_pii
from marketplace.identity.models import IdentityVerification
from marketplace.identity.service import credit_summary, list_status, masked, verification_status

CLOSED_DISPLAY_NAME = "已注销用户"
PURPOSE_MIN = 4
PURPOSE_MAX = 200

# Other features add their part of the export here: name → function(user) → JSON-able data.
EXPORT_SECTIONS: dict[str, Callable[[User], object]] = {}


def shown_name(user: User | None) -> str:
    """The name to show for a user: a closed account's in the reader's language.

    Closing stores CLOSED_DISPLAY_NAME (Chinese) as the display name; pages show it
    translated through this (the `display_name` template filter).
    """
    if user is None:
        return ""
    if user.status == "closed":
        return _("已注销用户")
    return user.display_name


def register_export_section(name: str, build: Callable[[User], object]) -> None:
    """Let a feature contribute what it holds about a person to their data export."""
    EXPORT_SECTIONS[name] = build


def _requests(user: User) -> list[IdentityVerification]:
    return list(
        db.session.scalars(
            sa.select(IdentityVerification)
            .where(IdentityVerification.user_id == user.id)
            .order_by(IdentityVerification.id)
        )
    )


def export_data(user: User, *, for_json: bool = True) -> dict:
    """Everything we hold about the user, masked; times as ISO strings when `for_json`."""

    def _iso(value):
        return value.isoformat() if for_json and value is not None else value

    verifications = []
    for req in _requests(user):
        row = masked(req)
        row["submitted_at"] = _iso(row["submitted_at"])
        row["decided_at"] = _iso(row["decided_at"])
        verifications.append(row)
    history = db.session.execute(
        sa.select(AuditEntry.at, AuditEntry.action)
        .where(
            sa.or_(
                AuditEntry.actor_id == user.id,
                sa.and_(AuditEntry.subject_type == "user", AuditEntry.subject_id == user.id),
            )
        )
        .order_by(AuditEntry.seq)
    ).all()
    data = {
        "exported_at": utcnow().isoformat(),
        "account": {
            "id": user.id,
            "username": user.username,
            "display_name": user.display_name,
            "status": user.status,
            "roles": user.roles,
            "created_at": _iso(user.created_at),
            "closed_at": _iso(user.closed_at),
            "verification": verification_status(user),
            "credit": credit_summary(user),
            "list_status": list_status(user),
        },
        "verifications": verifications,
        "account_history": [{"at": _iso(at), "action": action} for at, action in history],
        "notes": _(
            "身份证号、手机号、姓名、学号和信用代码在系统中加密保存；为防止泄露，这里只显示遮蔽后的形式。"
            "如需完整信息，请联系平台。"
        ),
    }
    for name, build in EXPORT_SECTIONS.items():
        data[name] = build(user)
    return data


def _withdraw_if_pending(req: IdentityVerification, now) -> None:
    """Withdraw a request still pending: one conditional UPDATE, as in service._decide.

    A plain write of the object loaded a moment ago would overwrite a moderator's
    decision committed in between. If they decided first, their decision stands (a
    verified identity keeps its index, see the module docstring).
    """
    result = db.session.execute(
        sa.update(IdentityVerification)
        .where(IdentityVerification.id == req.id, IdentityVerification.status == "pending")
        .values(status="withdrawn", decided_at=now, id_index=None, holder_id=None)
        .execution_options(synchronize_session="fetch")
    )
    if result.rowcount != 1:
        db.session.refresh(req)  # decided meanwhile: read the decision


def erase_personal_data(user: User) -> None:
    """Erase the encrypted data of every request; withdraw a pending one (see the module docstring)."""
    now = utcnow()
    for req in _requests(user):
        if req.status == "pending":
            _withdraw_if_pending(req, now)
        req.real_name_enc = req.id_number_enc = req.phone_enc = None
        req.student_no_enc = req.credit_code_enc = req.real_name_masked = req.phone_index = None
        req.erased_at = now
    db.session.flush()


def close_account(user: User, password: str) -> None:
    """Close the user's own account after checking the password: erase, pseudonymise, end sessions."""
    if user.status == "closed":
        raise Conflict(_("该账户已经注销。"))
    if not verify_password(user.password_hash, password or ""):
        raise Invalid(_("密码不正确。"), errors={"password": [_("密码不正确")]})
    erase_personal_data(user)
    user.display_name = CLOSED_DISPLAY_NAME
    # `~` cannot occur in a registered username, so this never collides with one.
    user.username = f"closed~{user.id}"
    user.password_hash = hash_password(secrets.token_urlsafe(32))  # a password nobody knows
    user.closed_at = utcnow()
    set_status(user, user, "closed", "closed by the account holder")


def reveal(actor: User | None, user: User, purpose: str) -> dict:
    """The unmasked data of the user's newest request, for a stated purpose; always audited.

    `actor` is the moderator or supervisor asking, or None for the operator at the
    server console (who holds the keys anyway).
    """
    if actor is not None and not (actor.status == "active" and actor.has_role("moderator", "supervisor")):
        raise Forbidden(_("只有审核员或监管人员可以查看完整的实名信息。"))
    purpose = (purpose or "").strip()
    if not PURPOSE_MIN <= len(purpose) <= PURPOSE_MAX:
        message = _("请写明查看目的（%(a)s–%(b)s 个字）", a=PURPOSE_MIN, b=PURPOSE_MAX)
        raise Invalid(message, errors={"purpose": [message]})
    if looks_like_pii(purpose):
        message = _("目的中不要写证件号码或手机号")
        raise Invalid(message, errors={"purpose": [message]})
    candidates = [r for r in _requests(user) if r.erased_at is None]
    if not candidates:
        raise NotFound(_("该用户没有可查看的实名信息。"))
    verified = [r for r in candidates if r.status == "verified"]
    req = verified[0] if verified else candidates[-1]
    c = crypto()
    values = {
        "real_name": c.decrypt(req.real_name_enc),
        "id_number": c.decrypt(req.id_number_enc),
        "phone": c.decrypt(req.phone_enc),
        "student_no": c.decrypt(req.student_no_enc),
        "credit_code": c.decrypt(req.credit_code_enc),
    }
    record(
        "pii.revealed",
        actor=actor,
        subject_type="user",
        subject_id=user.id,
        data={
            "purpose": purpose,
            "verification_id": req.id,
            "fields": sorted(k for k, v in values.items() if v is not None),
        },
    )
    return {"verification_id": req.id, "kind": req.kind, "status": req.status, "campus": req.campus, **values}
