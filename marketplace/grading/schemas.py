"""JSON shapes of the grading API: the standards as data (API.md "Standard documents")."""

from typing import Literal

from pydantic import BaseModel, Field


class StandardSummaryOut(BaseModel):
    category: str
    version: str
    title: str


class StandardListOut(BaseModel):
    items: list[StandardSummaryOut]
    next_cursor: str | None = Field(default=None, description="always null: every standard fits on one page")


class GateOut(BaseModel):
    key: str
    label: str = Field(description="answered true, this refuses the listing")
    hint: str | None


class SectionOut(BaseModel):
    key: str
    label: str
    max_score: int | None = Field(description="points of a scored section (the vehicle standard), else null")
    hint: str | None


class OptionOut(BaseModel):
    value: str
    label: str
    max_grade: str | None = Field(description="the best grade an item answered so can still reach")
    deduction: int | None = Field(description="points this answer takes off its section (scored standards)")


class RequiredIfOut(BaseModel):
    item: str
    values: list[str] = Field(description="the item is required when `item` is answered with one of these")


class ItemOut(BaseModel):
    key: str
    label: str
    type: Literal["choice", "number", "text", "imei", "vin", "date"]
    required: bool
    section: str | None
    hint: str | None
    options: list[OptionOut] | None = Field(description="choices, ordered from the best condition to the worst")
    min: int | float | None
    max: int | float | None
    unit: str | None
    better: Literal["higher", "lower"] | None
    integer: bool | None
    max_length: int | None
    required_if: RequiredIfOut | None


class GradeOut(BaseModel):
    code: str
    label: str
    summary: str | None = Field(description="how the grade is reached")
    min_score: int | None = Field(description="lowest technical score of the band (scored standards)")


class StandardOut(BaseModel):
    category: str
    version: str
    title: str
    description: str | None
    basis: str | None = Field(description="the standards and platform rules the checklist follows")
    gates: list[GateOut]
    sections: list[SectionOut]
    items: list[ItemOut]
    grades: list[GradeOut] = Field(description="ordered from the best to the worst")
