"""Fixtures of the reliability suite (`make test-reliability`): real gunicorn servers on real databases.

Every test here is marked `reliability`; `make test` leaves them out and `make test-reliability` runs
only them (on SQLite, or on PostgreSQL with TEST_DATABASE_URL), one at a time: they start servers
with several workers and measure them, which parallel tests on two cores would only disturb.
"""

from __future__ import annotations

import pytest

from tests.reliability.server import LiveServer, make_database


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/reliability/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.reliability)


@pytest.fixture
def live_database(tmp_path):
    """A fresh database with the schema built; dropped afterwards (PostgreSQL)."""
    database = make_database(tmp_path)
    yield database
    database.close()


@pytest.fixture
def live_server(live_database, tmp_path):
    """live_server(workers=2, env={...}) → a started LiveServer on live_database, stopped afterwards."""
    servers: list[LiveServer] = []

    def start(*, workers: int = 2, env: dict | None = None, database=None) -> LiveServer:
        log = tmp_path / f"gunicorn-{len(servers)}.log"
        server = LiveServer(database or live_database, log, workers=workers, env=env)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.kill()
