"""The credit policy: every number lives in policy.json, versioned, not in code."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files

from flask_babel import lazy_gettext as _l

BAND_LABELS = {
    "excellent": _l("优秀"),
    "good": _l("良好"),
    "fair": _l("一般"),
    "poor": _l("较差"),
    "restricted": _l("受限"),
}


@lru_cache(maxsize=1)
def policy() -> dict:
    """The policy document shipped with the code."""
    return json.loads(files("marketplace.credit").joinpath("policy.json").read_text(encoding="utf-8"))


def band(score: int | None) -> str | None:
    """The band code a score falls in (None when the user has no score yet)."""
    if score is None:
        return None
    for entry in policy()["bands"]:
        if score >= entry["min"]:
            return entry["code"]
    return policy()["bands"][-1]["code"]
