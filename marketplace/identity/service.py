"""Real-name verification: submitting, deciding, the verification state and public profiles.

Personal data enters through `submit`, is validated (FACTS.md rules), encrypted
(crypto.py) and leaves only masked (masking.py), except through `privacy.reveal`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from marketplace.accounts.models import User
from marketplace.audit.service import record
from marketplace.credit import service as credit
from marketplace.credit.policy import band
from marketplace.db import db, utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.identity import validators
from marketplace.identity.crypto import crypto
from marketplace.identity.masking import looks_like_pii, mask_id_number, mask_keep_ends, mask_name, mask_phone
from marketplace.identity.models import KINDS, IdentityVerification
from marketplace.identity.places import CAMPUSES, DISTRICT_OF_REGION

NAME_MAX = 40
# Ids are 32-bit INTEGER columns; a larger number in a URL names nothing.
REASON_MAX = 500
_NAME_EXTRA = set("·•. ")


@dataclass
class VerificationInput:
    """What a person types into the verification form or sends to the API."""

    real_name: str = ""
    id_number: str = ""
    phone: str = ""
    kind: str = "resident"
    campus: str | None = None
    student_no: str | None = None
    credit_code: str | None = None


@dataclass
class CleanInput:
    real_name: str
    id_number: str
    phone: str
    kind: str
    campus: str | None
    student_no: str | None
    credit_code: str | None


# --- who may do what --------------------------------------------------------


def can_decide(user: User | None) -> bool:
    """Whether `user` may approve or reject verification requests."""
    return bool(user and user.status == "active" and user.has_role("moderator"))


# --- validation ---------------------------------------------------------------


def _clean_name(value: str, errors: dict[str, list[str]]) -> str:
    name = re.sub(r"\s+", " ", (value or "").strip())
    if not name:
        errors["real_name"] = [_("请填写真实姓名")]
    elif not (2 <= len(name) <= NAME_MAX and all(c.isalpha() or c in _NAME_EXTRA for c in name)):
        errors["real_name"] = [_("姓名为 2–%(n)s 个字，只能包含文字、间隔号和空格", n=NAME_MAX)]
    return name


def _clean_id_number(value: str, errors: dict[str, list[str]]) -> str:
    number = validators.normalise_resident_id(value)
    if not number:
        errors["id_number"] = [_("请填写身份证号")]
        return number
    problem = validators.resident_id_error(number)
    if problem == "format":
        errors["id_number"] = [_("身份证号应为 18 位：17 位数字加 1 位数字或 X")]
    elif problem == "date":
        errors["id_number"] = [_("身份证号中的出生日期无效")]
    elif problem == "checksum":
        errors["id_number"] = [_("身份证号校验位不正确，请逐位核对")]
    return number


def _clean_phone(value: str, errors: dict[str, list[str]]) -> str:
    phone = validators.normalise_mobile(value)
    if not phone:
        errors["phone"] = [_("请填写手机号")]
    elif not validators.is_valid_mobile(phone):
        errors["phone"] = [_("请填写中国大陆手机号：以 1 开头的 11 位数字")]
    return phone


def clean(data: VerificationInput) -> CleanInput:
    """Normalise and check every field; Invalid naming each field at fault."""
    errors: dict[str, list[str]] = {}
    kind = (data.kind or "resident").strip()
    if kind not in KINDS:
        errors["kind"] = [_("请选择认证类型：居民、学生或商家")]
    name = _clean_name(data.real_name, errors)
    number = _clean_id_number(data.id_number, errors)
    phone = _clean_phone(data.phone, errors)
    campus = student_no = credit_code = None
    if kind == "student":
        campus = (data.campus or "").strip() or None
        if campus not in CAMPUSES:
            errors["campus"] = [_("请选择学校")]
        student_no = validators.normalise_student_no(data.student_no) or None
        if student_no is None:
            errors["student_no"] = [_("请填写学号")]
        elif not validators.is_valid_student_no(student_no):
            errors["student_no"] = [_("学号为 4–20 位字母或数字")]
    if kind == "business":
        credit_code = validators.normalise_credit_code(data.credit_code or "") or None
        if credit_code is None:
            errors["credit_code"] = [_("请填写统一社会信用代码")]
        elif not re.fullmatch(r"[0-9A-HJ-NP-RTUWXY]{18}", credit_code):
            errors["credit_code"] = [_("统一社会信用代码为 18 位数字或大写字母（不含 I、O、Z、S、V）")]
        elif not validators.is_valid_credit_code(credit_code):
            errors["credit_code"] = [_("统一社会信用代码校验位不正确，请逐位核对")]
    if errors:
        raise Invalid(_("认证信息有误，请检查标出的字段。"), errors=errors)
    return CleanInput(name, number, phone, kind, campus, student_no, credit_code)


# --- the verification state -----------------------------------------------------


def latest_request(user: User) -> IdentityVerification | None:
    """The user's newest verification request, if any."""
    return db.session.scalar(
        sa.select(IdentityVerification)
        .where(IdentityVerification.user_id == user.id)
        .order_by(IdentityVerification.id.desc())
        .limit(1)
    )


def verification_status(user: User) -> str:
    """`unverified`, `pending`, `verified` or `rejected`."""
    latest = latest_request(user)
    if latest is None or latest.status == "withdrawn":
        return "unverified"
    return latest.status


def verified_identity(user: User) -> IdentityVerification | None:
    """The user's approved verification (kind, campus, masked name), or None."""
    return db.session.scalar(
        sa.select(IdentityVerification).where(
            IdentityVerification.user_id == user.id, IdentityVerification.status == "verified"
        )
    )


def masked_real_names(user_ids: set[int]) -> dict[int, str]:
    """{user: masked real name} of verified users, in one query (never the name itself)."""
    if not user_ids:
        return {}
    rows = db.session.execute(
        sa.select(IdentityVerification.user_id, IdentityVerification.real_name_masked).where(
            IdentityVerification.user_id.in_(user_ids), IdentityVerification.status == "verified"
        )
    )
    return {user_id: masked for user_id, masked in rows if masked}


def is_verified(user: User) -> bool:
    """Whether the user passed real-name verification."""
    return verified_identity(user) is not None


def student_campus(user: User) -> str | None:
    """The campus code of a verified student, else None (events check eligibility with it)."""
    identity = verified_identity(user)
    return identity.campus if identity is not None and identity.kind == "student" else None


def resident_district(user: User) -> str | None:
    """The district of the city where a verified user's ID number was issued (户籍), else None.

    Read from the first six digits of the decrypted number for an eligibility check only:
    neither the number nor its digits leave this function.
    """
    verified = verified_identity(user)
    if verified is None or verified.id_number_enc is None:
        return None
    number = crypto().decrypt(verified.id_number_enc) or ""
    return DISTRICT_OF_REGION.get(number[:6])


# The trust feature tells whether a user is on the red or black list: function(user) → status or None.
LIST_STATUS_SOURCES: list[Callable[[User], str | None]] = []


def register_list_status(source: Callable[[User], str | None]) -> Callable[[User], str | None]:
    """Let the feature that keeps the public lists answer for `list_status`."""
    if source not in LIST_STATUS_SOURCES:
        LIST_STATUS_SOURCES.append(source)
    return source


def list_status(user: User) -> str:
    """`none`, `red`, `black`, or `suspended` (the account, or trading while a black-list proposal waits)."""
    if user.status == "suspended":
        return "suspended"
    for source in LIST_STATUS_SOURCES:
        status = source(user)
        if status:
            return status
    return "none"


def credit_summary(user: User) -> dict:
    """{score, band} of the user (both None before verification)."""
    return {"score": user.credit_score, "band": band(user.credit_score)}


def masked(req: IdentityVerification) -> dict:
    """The request's data as shown to its owner and to moderators: masked."""
    c = crypto()
    return {
        "id": req.id,
        "kind": req.kind,
        "status": req.status,
        "real_name": mask_name(c.decrypt(req.real_name_enc)),
        "id_number": mask_id_number(c.decrypt(req.id_number_enc)),
        "phone": mask_phone(c.decrypt(req.phone_enc)),
        "campus": req.campus,
        "student_no": mask_keep_ends(c.decrypt(req.student_no_enc)),
        "credit_code": mask_keep_ends(c.decrypt(req.credit_code_enc)),
        "submitted_at": req.submitted_at,
        "decided_at": req.decided_at,
        "reason": req.reason,
        "erased": req.erased_at is not None,
    }


def me(user: User) -> dict:
    """What the signed-in user sees about their own account."""
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "roles": user.roles,
        "verification": verification_status(user),
        "credit": credit_summary(user),
        "list_status": list_status(user),
    }


# Other features add their part of the public profile here: name → function(user) → JSON-able data
# (the ratings feature adds the reputation summary under "ratings").
PROFILE_SECTIONS: dict[str, Callable[[User], dict]] = {}


def register_profile_section(name: str, build: Callable[[User], dict]) -> None:
    """Let a feature that builds on identity contribute to everyone's public profile."""
    PROFILE_SECTIONS[name] = build


def public_profile(user_id: int) -> dict:
    """What anyone may see about a user: masked real name, verified mark, credit band, and the registered sections."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("找不到该用户。"))
    identity = verified_identity(user)
    return {
        "id": user.id,
        "display_name": user.display_name,
        "real_name": identity.real_name_masked if identity is not None else None,
        "verified": identity is not None and user.status != "closed",
        "kind": identity.kind if identity is not None else None,
        "credit": credit_summary(user),
        "list_status": list_status(user),
    } | {name: build(user) for name, build in PROFILE_SECTIONS.items()}


# --- submitting ------------------------------------------------------------------


def _conflict_for_user(user: User) -> None:
    latest = latest_request(user)
    if latest is not None and latest.status == "verified":
        raise Conflict(_("你已完成实名认证。"))
    if latest is not None and latest.status == "pending":
        raise Conflict(_("你的认证申请正在审核中，请等待结果。"))


def submit(user: User, data: VerificationInput, verifier=None) -> IdentityVerification:
    """Store a verification request (encrypted) and hand it to the verifier.

    Invalid names the field at fault and stores nothing; Conflict when the user already
    has an open request or the identity belongs to another account.
    """
    from marketplace.identity.verifiers import get_verifier

    if user.status != "active":
        raise Forbidden(_("该账户已停用或注销。"))
    cleaned = clean(data)
    _conflict_for_user(user)
    verifier = verifier or get_verifier()
    c = crypto()
    req = IdentityVerification(
        user_id=user.id,
        kind=cleaned.kind,
        status="pending",
        holder_id=user.id,
        id_index=c.blind_index("id", cleaned.id_number),
        phone_index=c.blind_index("phone", cleaned.phone),
        real_name_enc=c.encrypt(cleaned.real_name),
        id_number_enc=c.encrypt(cleaned.id_number),
        phone_enc=c.encrypt(cleaned.phone),
        student_no_enc=c.encrypt(cleaned.student_no),
        credit_code_enc=c.encrypt(cleaned.credit_code),
        real_name_masked=mask_name(cleaned.real_name),
        campus=cleaned.campus,
        verifier=verifier.name,
        submitted_at=utcnow(),
    )
    try:
        # The UNIQUE constraints decide, also against a request committed a moment ago.
        # (Added inside the savepoint: begin_nested() flushes what is pending before it.)
        with db.session.begin_nested():
            db.session.add(req)
            db.session.flush()
    except sa.exc.IntegrityError:
        _conflict_for_user(user)
        message = _("该身份已用于另一个账户：一个身份只能有一个账户。")
        raise Conflict(message, errors={"id_number": [message]}) from None
    record(
        "identity.submitted",
        actor=user,
        subject_type="identity_verification",
        subject_id=req.id,
        data={"user_id": user.id, "kind": req.kind, "verifier": verifier.name},
    )
    verifier.submit(req)
    return req


# --- deciding ---------------------------------------------------------------------


def pending_requests(actor: User, *, after_id: int | None = None, limit: int = 20) -> list[IdentityVerification]:
    """Pending requests, oldest first (moderators only)."""
    if not can_decide(actor):
        raise Forbidden(_("只有审核员可以查看认证申请。"))
    # The queue shows each applicant's name: their users in one more query, not one per request.
    query = (
        sa.select(IdentityVerification)
        .where(IdentityVerification.status == "pending")
        .options(selectinload(IdentityVerification.user))
    )
    if after_id is not None:
        query = query.where(IdentityVerification.id > after_id)
    return list(db.session.scalars(query.order_by(IdentityVerification.id).limit(limit)))


def get_request(actor: User, request_id: int) -> IdentityVerification:
    """One request, for a moderator (NotFound for anyone else too, so ids are not probed)."""
    req = db.session.get(IdentityVerification, request_id)
    if req is None or not (can_decide(actor) or req.user_id == actor.id):
        raise NotFound(_("找不到该认证申请。"))
    return req


def shared_phone_accounts(req: IdentityVerification) -> int:
    """How many other accounts gave the same phone number (a hint for moderators)."""
    if req.phone_index is None:
        return 0
    return db.session.scalar(
        sa.select(sa.func.count(sa.distinct(IdentityVerification.user_id))).where(
            IdentityVerification.phone_index == req.phone_index, IdentityVerification.user_id != req.user_id
        )
    )


def _decidable(actor: User, request_id: int) -> IdentityVerification:
    if not can_decide(actor):
        raise Forbidden(_("只有审核员可以处理认证申请。"))
    req = db.session.get(IdentityVerification, request_id)
    if req is None:
        raise NotFound(_("找不到该认证申请。"))
    if req.user_id == actor.id:
        raise Forbidden(_("不能审核自己的认证申请，请交给其他审核员。"))
    if req.status != "pending":
        raise Conflict(_("该申请已经处理过了。"))
    return req


def _decide(req: IdentityVerification, actor: User | None, status: str, reason: str | None, verifier: str) -> None:
    values = {"status": status, "decided_at": utcnow(), "decided_by_id": getattr(actor, "id", None), "reason": reason}
    if status == "rejected":
        values.update(id_index=None, holder_id=None)
    # One conditional UPDATE: of two moderators deciding at once, exactly one wins.
    result = db.session.execute(
        sa.update(IdentityVerification)
        .where(IdentityVerification.id == req.id, IdentityVerification.status == "pending")
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )
    if result.rowcount != 1:
        raise Conflict(_("该申请已经处理过了。"))
    db.session.refresh(req)
    data: dict = {"user_id": req.user_id, "kind": req.kind, "verifier": verifier}
    if status == "verified":
        user = req.user
        # The initial score is the first event of the user's credit ledger (once per user).
        if credit.open_account(user, source_id=req.id) is not None:
            data["initial_score"] = user.credit_score
        action = "identity.approved"
    else:
        data["reason"] = reason
        action = "identity.rejected"
    db.session.flush()
    record(action, actor=actor, subject_type="identity_verification", subject_id=req.id, data=data)


def approve(actor: User, request_id: int) -> IdentityVerification:
    """Approve a pending request: the user becomes verified and gets the initial credit score."""
    req = _decidable(actor, request_id)
    _decide(req, actor, "verified", None, "moderator")
    return req


def approve_automatically(req: IdentityVerification, verifier: str) -> None:
    """Approve a request on a verifier's own authority (no moderator involved)."""
    _decide(req, None, "verified", None, verifier)


def reject(actor: User, request_id: int, reason: str) -> IdentityVerification:
    """Reject a pending request with a reason the user will read; the identity is freed."""
    req = _decidable(actor, request_id)
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_("请填写驳回理由。"), errors={"reason": [_("请填写驳回理由，申请人会看到它")]})
    if len(reason) > REASON_MAX:
        raise Invalid(_("驳回理由过长。"), errors={"reason": [_("最多 %(n)s 个字", n=REASON_MAX)]})
    if looks_like_pii(reason):
        message = _("理由中不要写证件号码或手机号")
        raise Invalid(message, errors={"reason": [message]})
    _decide(req, actor, "rejected", reason, "moderator")
    return req
