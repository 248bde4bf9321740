"""Order fixtures, shared by the orders, ratings, notices and API tests: orders made through the service."""

from __future__ import annotations

import pytest


@pytest.fixture
def make_order(db, phone, buyer):
    """make_order(listing=phone, buyer=buyer, status="requested"|"accepted"|"completed", message=...) → committed order.

    Each status is reached through the service, as the parties would.
    """
    from marketplace.orders import service

    def make(listing=None, buyer_user=None, status="requested", message="周末可以当面交易吗？"):
        listing = listing or phone
        who = buyer_user or buyer
        order = service.request(who, listing.id, message)
        db.session.commit()
        if status in ("accepted", "completed", "disputed"):
            service.accept(listing.seller, order)
            db.session.commit()
        if status == "completed":
            service.complete(who, order)
            db.session.commit()
        if status == "disputed":
            service.dispute(who, order, "卖家说的电池健康度和实物不一样")
            db.session.commit()
        return order

    return make


@pytest.fixture
def completed_order(make_order):
    """A completed order for the A-grade phone between `seller` and `buyer`."""
    return make_order(status="completed")
