"""Gates on trading: features that may suspend a user from trading register a check here.

Listings, orders and events ask `check_can_trade(user)` before a user lists, orders,
accepts or registers; the trust feature registers the black-list check (a pending or
active entry suspends trading). The gates raise Forbidden with the reason in words.
"""

from __future__ import annotations

from collections.abc import Callable

from marketplace.accounts.models import User

TRADE_GATES: list[Callable[[User], None]] = []


def register_gate(gate: Callable[[User], None]) -> Callable[[User], None]:
    """Add a check run before every trading action (idempotent)."""
    if gate not in TRADE_GATES:
        TRADE_GATES.append(gate)
    return gate


def check_can_trade(user: User) -> None:
    """Raise the first gate's Forbidden, if any gate refuses `user`."""
    for gate in TRADE_GATES:
        gate(user)
