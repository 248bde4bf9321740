"""Placeholder: replaced by the identity feature."""

from flask import Blueprint

bp = Blueprint("identity", __name__)


@bp.get("/me")
def profile():
    return "profile"


@bp.get("/me/verification")
def verify():
    return "verify"


@bp.get("/moderation/verifications")
def queue():
    return "queue"
