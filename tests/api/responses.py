"""Assertions on API responses shared by the API tests: a success with its body, a problem+json error."""

PROBLEM = "application/problem+json"


def ok(resp, status=200):
    """The JSON body of a response that must have `status`."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    return resp.get_json()


def problem(resp, status):
    """The problem+json body of an error response that must have `status`."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == PROBLEM
    return resp.get_json()
