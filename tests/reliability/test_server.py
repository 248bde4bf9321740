"""The live server itself: it serves the database it was given, and a SIGKILL takes every process down."""

from __future__ import annotations

import json
import urllib.request

from tests.reliability.server import alive, make_users


def test_the_server_serves_its_database_and_dies_whole_on_sigkill(live_database, live_server):
    app = live_database.app()
    [user] = make_users(app, 1, prefix="live")
    server = live_server(workers=2)
    request = urllib.request.Request(server.url("/api/v1/me"), headers=user["headers"])
    with urllib.request.urlopen(request, timeout=30) as response:
        assert json.load(response)["username"] == "live0"
    workers = server.worker_pids()
    assert len(workers) == 2
    server.kill()
    assert not [pid for pid in [server.proc.pid, *workers] if alive(pid)]
