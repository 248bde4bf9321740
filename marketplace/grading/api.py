"""Grading API: the published standards as data, for inspectors' tools and other clients."""

from __future__ import annotations

from flask_babel import gettext as _

from marketplace.api import endpoint
from marketplace.errors import NotFound
from marketplace.grading.engine import get_standard, standards
from marketplace.grading.schemas import StandardListOut, StandardOut, StandardSummaryOut


@endpoint(
    "/grading/standards",
    summary="The grading standards (phone, appliance, vehicle) with their versions",
    tags=("grading",),
    response=StandardListOut,
    auth="none",
)
def list_standards(*, user):
    items = [StandardSummaryOut(category=s.category, version=s.version, title=str(s.title)) for s in standards()]
    return StandardListOut(items=items, next_cursor=None)


@endpoint(
    "/grading/standards/<category>",
    summary="One standard: gates, items with their options, grades best first (labels in the request's language)",
    tags=("grading",),
    response=StandardOut,
    auth="none",
    errors=(404,),
)
def get_standard_document(*, user, category: str):
    standard = get_standard(category)
    if standard is None:
        raise NotFound(_("没有这个类目的评级标准。"))
    return StandardOut.model_validate(standard.public())
