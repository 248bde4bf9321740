"""Places of the demo city (Yinchuan): districts and campuses, shared by identity, seed and events."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

CITY = _l("银川市")

# Codes are stored; labels are shown (and translated).
DISTRICTS: dict[str, object] = {
    "xingqing": _l("兴庆区"),
    "jinfeng": _l("金凤区"),
    "xixia": _l("西夏区"),
    "yongning": _l("永宁县"),
    "helan": _l("贺兰县"),
    "lingwu": _l("灵武市"),
}

# GB/T 2260 codes of the districts: the first six digits of a resident ID number issued there.
REGION_CODES = {
    "xingqing": "640104",
    "xixia": "640105",
    "jinfeng": "640106",
    "yongning": "640121",
    "helan": "640122",
    "lingwu": "640181",
}
DISTRICT_OF_REGION = {code: district for district, code in REGION_CODES.items()}


@dataclass(frozen=True)
class Campus:
    code: str
    name: object  # a lazy string
    district: str


CAMPUSES: dict[str, Campus] = {
    "nxu": Campus("nxu", _l("宁夏大学"), "xixia"),
    "nmu": Campus("nmu", _l("北方民族大学"), "xixia"),
}


def campus_label(code: str | None) -> str | None:
    """The shown name of a campus code (None for no campus, the code itself if unknown)."""
    if code is None:
        return None
    campus = CAMPUSES.get(code)
    return str(campus.name) if campus else code


def district_label(code: str | None) -> str | None:
    """The shown name of a district code (None for none, the code itself if unknown)."""
    if code is None:
        return None
    label = DISTRICTS.get(code)
    return str(label) if label else code
