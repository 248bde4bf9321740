"""Key files: never silently re-created once identity data exists; created race-free when they may be."""

import logging
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from marketplace import create_app, keyfiles
from marketplace.db import db as _db
from marketplace.identity import service
from marketplace.identity.crypto import ENCRYPTION_KEY_FILE, INDEX_KEY_FILE, KeyFileError, crypto

PROBLEM = "application/problem+json"


def _lose_keys(app, *names) -> dict[str, bytes]:
    """Delete key files as a lost instance/ would (and forget the loaded keys); returns their content."""
    folder = Path(app.instance_path)
    saved = {}
    for name in names or (ENCRYPTION_KEY_FILE, INDEX_KEY_FILE):
        saved[name] = (folder / name).read_bytes()
        (folder / name).unlink()
    app.extensions.pop("identity_crypto", None)
    return saved


def _restore(app, saved: dict[str, bytes]) -> None:
    for name, content in saved.items():
        (Path(app.instance_path) / name).write_bytes(content)


# --- no silent new keys -------------------------------------------------------------------------


def test_keys_are_created_while_no_identity_data_exists(app):
    folder = Path(app.instance_path)
    assert not (folder / ENCRYPTION_KEY_FILE).exists()
    crypto()
    for name in (ENCRYPTION_KEY_FILE, INDEX_KEY_FILE):
        assert stat.S_IMODE(os.stat(folder / name).st_mode) == 0o600


@pytest.mark.parametrize("lost", [(ENCRYPTION_KEY_FILE, INDEX_KEY_FILE), (ENCRYPTION_KEY_FILE,), (INDEX_KEY_FILE,)])
def test_missing_keys_with_identity_data_are_an_error_not_new_keys(app, user, submit_request, lost):
    submit_request(user)
    _lose_keys(app, *lost)
    with pytest.raises(KeyFileError) as exc:
        crypto()
    message = str(exc.value)
    assert all(name in message for name in lost)
    assert "Restore the key files from your backup" in message
    for name in lost:
        assert not (Path(app.instance_path) / name).exists()


def test_a_closed_verified_identity_alone_still_counts_as_data(app, db, verified_user, password):
    """Closing erases the encrypted fields but keeps the blind index, which the index key must still match."""
    from marketplace.identity.privacy import close_account

    close_account(verified_user("gone"), password)
    db.session.commit()
    _lose_keys(app, INDEX_KEY_FILE)
    with pytest.raises(KeyFileError):
        crypto()


def test_restored_keys_work_without_a_restart(app, user, submit_request):
    req = submit_request(user)
    saved = _lose_keys(app)
    with pytest.raises(KeyFileError):
        crypto()
    _restore(app, saved)
    assert service.masked(req)["real_name"] == "张*三"


def test_pages_answer_503_with_a_clear_message_and_the_rest_keeps_working(app, client, user, login, submit_request):
    submit_request(user)
    _lose_keys(app)
    login(user)
    page = client.get("/me")
    assert page.status_code == 503
    assert "实名信息暂时无法使用" in page.get_data(as_text=True)
    assert client.get("/").status_code == 200


def test_the_api_answers_503_problem_json(app, api, make_user, token_for, submit_request, moderator, identity_data):
    req = submit_request(make_user("applicant"))
    newcomer, mod_headers = token_for(make_user("newcomer")), token_for(moderator)
    _lose_keys(app)
    for resp in (
        api.post(f"/api/v1/moderation/verifications/{req.id}/approve", headers=mod_headers),
        api.post("/api/v1/me/verification", json=identity_data(), headers=newcomer),
    ):
        assert resp.status_code == 503 and resp.mimetype == PROBLEM
        assert resp.get_json()["type"].endswith("identity-unavailable")
    # Nothing was stored or decided meanwhile.
    assert api.get("/api/v1/me", headers=newcomer).get_json()["verification"] == "unverified"
    assert api.get("/api/v1/moderation/verifications", headers=mod_headers).get_json()["items"][0]["id"] == req.id


def _app_on_the_same_database(app, instance: Path):
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "other",
            "INSTANCE_PATH": str(instance),
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )


def _dispose(other) -> None:
    with other.app_context():
        _db.engine.dispose()


def test_startup_logs_a_clear_error_when_keys_are_missing_but_data_exists(app, user, submit_request, tmp_path, caplog):
    submit_request(user)
    caplog.set_level(logging.CRITICAL)
    other = _app_on_the_same_database(app, tmp_path / "new-instance")
    _dispose(other)
    critical = [r.getMessage() for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(critical) == 1
    assert ENCRYPTION_KEY_FILE in critical[0] and INDEX_KEY_FILE in critical[0]
    assert "Restore the key files from your backup" in critical[0]
    assert not list((tmp_path / "new-instance").glob("identity*"))


def test_startup_is_quiet_and_creates_nothing_without_data(app, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    other = _app_on_the_same_database(app, tmp_path / "fresh")
    _dispose(other)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not list((tmp_path / "fresh").glob("identity*"))


def test_startup_loads_keys_that_are_there(app, user, submit_request):
    submit_request(user)
    other = _app_on_the_same_database(app, app.instance_path)
    try:
        assert "identity_crypto" in other.extensions
    finally:
        _dispose(other)


# --- race-free creation -----------------------------------------------------------------------------


# Each process loads keyfiles.py alone (not the app), waits for the start signal, then reads or creates.
_RACER = """
import importlib.util, os, sys, time
from pathlib import Path
spec = importlib.util.spec_from_file_location("keyfiles", sys.argv[1])
keyfiles = importlib.util.module_from_spec(spec)
spec.loader.exec_module(keyfiles)
go = Path(sys.argv[3])
while not go.exists():
    time.sleep(0.001)
print(keyfiles.read_or_create(Path(sys.argv[2]), lambda: os.urandom(16).hex()))
"""


def test_processes_starting_at_once_all_get_the_same_key(tmp_path):
    path, go = tmp_path / "keys" / "race.key", tmp_path / "go"
    path.parent.mkdir()
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, keyfiles.__file__, str(path), str(go)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(8)
    ]
    time.sleep(0.3)  # let them all start and wait
    go.touch()
    keys = [racer.communicate(timeout=30)[0].strip() for racer in racers]
    assert all(racer.returncode == 0 for racer in racers)
    assert len(set(keys)) == 1 and len(keys[0]) == 32
    assert path.read_text().strip() == keys[0]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["race.key"]  # no temporary files left


def test_threads_starting_at_once_all_get_the_same_key(tmp_path):
    path = tmp_path / "race.key"
    barrier = threading.Barrier(8)
    keys: list[str] = []

    def run():
        barrier.wait()
        keys.append(keyfiles.read_or_create(path, lambda: os.urandom(16).hex()))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1


def test_without_hard_links_creation_falls_back_to_exclusive_create(tmp_path, monkeypatch):
    def no_link(src, dst):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(keyfiles.os, "link", no_link)
    path = tmp_path / "fallback.key"
    first = keyfiles.read_or_create(path, lambda: "a" * 64)
    assert first == "a" * 64
    assert keyfiles.read_or_create(path, lambda: "b" * 64) == first
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["fallback.key"]


def test_a_reader_waits_for_a_file_still_being_written(tmp_path):
    path = tmp_path / "slow.key"
    path.touch()  # created by O_EXCL in another process, content not written yet

    def write_later():
        time.sleep(0.2)
        path.write_text("c" * 64)

    thread = threading.Thread(target=write_later)
    thread.start()
    assert keyfiles.read_or_create(path, lambda: "d" * 64) == "c" * 64
    thread.join()


def test_a_file_that_stays_empty_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(keyfiles, "_EMPTY_WAIT_SECONDS", 0.1)
    path = tmp_path / "empty.key"
    path.touch()
    with pytest.raises(keyfiles.KeyFileError, match="empty"):
        keyfiles.read_or_create(path, lambda: "e" * 64)


def test_the_secret_key_uses_the_same_race_free_helper(app, tmp_path):
    instance = tmp_path / "secret-instance"
    secrets_seen = []
    for _ in range(2):
        other = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": None,
                "INSTANCE_PATH": str(instance),
                "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                "RATELIMIT_STORAGE_URI": "memory://",
            }
        )
        secrets_seen.append(other.config["SECRET_KEY"])
        _dispose(other)
    assert secrets_seen[0] and secrets_seen[0] == secrets_seen[1]
    assert (instance / "secret_key").read_text().strip() == secrets_seen[0]
    assert stat.S_IMODE(os.stat(instance / "secret_key").st_mode) == 0o600
