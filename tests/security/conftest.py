"""The hostile-input suite: whatever a test here sends, no answer may be a server error."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def no_server_errors(app):
    """Fails the test if any response it received was a 5xx (pages and API alike)."""
    watch = app.extensions["pii_watch"]
    seen: list[str] = []
    check = watch.check_response

    def check_status(response):
        if response.status_code >= 500:
            request = getattr(response, "request", None)
            where = f"{request.method} {request.full_path}" if request is not None else "?"
            seen.append(f"{response.status_code} {where}")
        check(response)

    watch.check_response = check_status
    yield
    watch.check_response = check
    assert not seen, "server errors: " + "; ".join(seen[:10])
