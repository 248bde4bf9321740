"""Identity pages: profile, verification form, moderators' queue, my data, closing the account."""

import json
import re

import pytest

from marketplace.identity import service
from tests.identity.factories import make_id_number, make_phone


def _form(**fields):
    data = {
        "kind": "resident",
        "real_name": "王小明",
        "id_number": make_id_number(),
        "phone": make_phone(),
        "campus": "",
        "student_no": "",
        "credit_code": "",
    }
    data.update(fields)
    return data


def _field_error(html: str, name: str) -> str:
    match = re.search(rf'id="{name}-error"[^>]*>([^<]*)<', html)
    assert match, f"no error shown beside {name}"
    return match.group(1)


@pytest.fixture
def browser(app, login):
    """browser(user) → a separate logged-in client (one per person in the test)."""

    def make(user):
        return login(user, app.test_client())

    return make


def test_pages_need_a_login(client):
    for path in ("/me", "/me/verification", "/me/data", "/me/data.json", "/me/close", "/moderation/verifications"):
        resp = client.get(path)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], path


def test_profile_shows_the_state_and_invites_to_verify(client, user, login):
    login(user)
    html = client.get("/me").get_data(as_text=True)
    assert "未认证" in html and "/me/verification" in html


def test_the_form_offers_the_kinds_and_the_campuses(client, user, login):
    login(user)
    html = client.get("/me/verification").get_data(as_text=True)
    for text in ("宁夏大学", "北方民族大学", 'value="student"', 'value="business"', 'name="credit_code"'):
        assert text in html


def test_a_wrong_check_digit_is_shown_on_the_id_field_and_the_rest_is_kept(client, user, login):
    login(user)
    number = make_id_number()
    wrong = number[:16] + str((int(number[16]) + 1) % 10) + number[17]
    resp = client.post("/me/verification", data=_form(id_number=wrong, phone="+86 13912345678"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "校验位" in _field_error(html, "id_number")
    assert 'value="王小明"' in html
    assert wrong not in html and "13912345678" not in html  # secrets are typed again
    assert service.verification_status(user) == "unverified"


def test_several_fields_at_fault(client, user, login):
    login(user)
    resp = client.post("/me/verification", data=_form(kind="student", real_name="", phone="123"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    for name in ("real_name", "phone", "campus", "student_no"):
        _field_error(html, name)
    assert 'value="student" selected' in html or 'selected value="student"' in html


def test_an_identity_already_used_is_shown_on_the_id_field(client, make_user, login, submit_request):
    number = make_id_number()
    submit_request(make_user("owner"), id_number=number)
    login(make_user("copycat"))
    resp = client.post("/me/verification", data=_form(id_number=number))
    assert resp.status_code == 422
    assert "一个身份只能有一个账户" in _field_error(resp.get_data(as_text=True), "id_number")


def test_a_valid_request_is_pending_and_shown_masked(client, user, login):
    login(user)
    number, phone = make_id_number(), make_phone()
    resp = client.post("/me/verification", data=_form(id_number=number, phone=phone))
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/me")
    html = client.get("/me").get_data(as_text=True)
    assert "审核中" in html
    assert number[0] + "*" * 16 + number[-1] in html
    assert phone[:3] + "****" + phone[-4:] in html
    assert "王*明" in html
    done = client.get("/me/verification").get_data(as_text=True)
    assert "正在审核中" in done and 'name="id_number"' not in done


def test_the_queue_is_for_moderators(client, user, login):
    login(user)
    assert client.get("/moderation/verifications").status_code == 403
    assert client.post("/moderation/verifications/1/approve", data={}).status_code == 403


def test_a_moderator_approves_from_the_queue(client, make_user, moderator, login, browser, submit_request):
    applicant = make_user("applicant", display_name="申请人甲")
    req = submit_request(applicant, real_name="赵小钱")
    login(moderator)
    queue = client.get("/moderation/verifications").get_data(as_text=True)
    assert "申请人甲" in queue and "赵*钱" in queue
    review = client.get(f"/moderation/verifications/{req.id}").get_data(as_text=True)
    assert "通过认证" in review and "驳回申请" in review
    resp = client.post(f"/moderation/verifications/{req.id}/approve", data={})
    assert resp.status_code == 302
    assert "没有待处理的认证申请" in client.get("/moderation/verifications").get_data(as_text=True)
    mine = browser(applicant).get("/me").get_data(as_text=True)
    assert "已认证" in mine and "600" in mine


def test_a_rejection_needs_a_reason_and_the_applicant_reads_it(
    client, make_user, moderator, login, browser, submit_request
):
    applicant = make_user("applicant")
    req = submit_request(applicant)
    login(moderator)
    resp = client.post(f"/moderation/verifications/{req.id}/reject", data={"reason": ""})
    assert resp.status_code == 422
    _field_error(resp.get_data(as_text=True), "reason")
    resp = client.post(f"/moderation/verifications/{req.id}/reject", data={"reason": "请联系 13912345678"})
    assert resp.status_code == 422 and "手机号" in _field_error(resp.get_data(as_text=True), "reason")
    resp = client.post(f"/moderation/verifications/{req.id}/reject", data={"reason": "证件照片模糊，请重新拍摄"})
    assert resp.status_code == 302
    own = browser(applicant)
    assert "证件照片模糊，请重新拍摄" in own.get("/me").get_data(as_text=True)
    form = own.get("/me/verification").get_data(as_text=True)
    assert "上次的申请未通过" in form and 'name="id_number"' in form


def test_a_moderator_cannot_decide_their_own_request(client, moderator, login, submit_request):
    req = submit_request(moderator)
    login(moderator)
    queue = client.get("/moderation/verifications").get_data(as_text=True)
    assert "需由其他审核员处理" in queue
    review = client.get(f"/moderation/verifications/{req.id}").get_data(as_text=True)
    assert "通过认证" not in review
    resp = client.post(f"/moderation/verifications/{req.id}/approve", data={}, follow_redirects=True)
    assert "不能审核自己的认证申请" in resp.get_data(as_text=True)
    assert service.verification_status(moderator) == "pending"


def test_unknown_requests_are_not_found(client, moderator, login):
    login(moderator)
    assert client.get("/moderation/verifications/999").status_code == 404
    assert client.post("/moderation/verifications/999/reject", data={"reason": "x"}).status_code == 404


def test_my_data_page_and_download_are_masked(client, user, login, submit_request):
    number, phone = make_id_number(), make_phone()
    submit_request(user, id_number=number, phone=phone)
    login(user)
    page = client.get("/me/data")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert number[0] + "*" * 16 + number[-1] in html and "/me/data.json" in html
    resp = client.get("/me/data.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert resp.headers["Content-Disposition"].startswith("attachment")
    data = json.loads(resp.get_data(as_text=True))
    assert data["verifications"][0]["phone"] == phone[:3] + "****" + phone[-4:]
    assert number not in resp.get_data(as_text=True)


def test_closing_asks_on_a_page_of_its_own_then_closes(client, verified_user, login, password):
    user = verified_user("leaving")
    login(user)
    page = client.get("/me/close")
    assert page.status_code == 200 and "确认注销" in page.get_data(as_text=True)
    resp = client.post("/me/close", data={"password": "not-my-password"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    _field_error(html, "confirm")
    resp = client.post("/me/close", data={"password": "not-my-password", "confirm": "y"})
    assert "密码不正确" in _field_error(resp.get_data(as_text=True), "password")
    resp = client.post("/me/close", data={"password": password, "confirm": "y"})
    assert resp.status_code == 302
    assert client.get("/me").status_code == 302  # logged out
    assert client.post("/login", data={"username": "leaving", "password": password}).status_code == 422


# --- the queue decrypts nothing ------------------------------------------------------------------


def test_the_queue_shows_the_stored_masked_name_without_decrypting(
    client, make_user, moderator, login, submit_request, monkeypatch
):
    from marketplace.identity.crypto import IdentityCrypto

    reqs = [submit_request(make_user(f"applicant{n}"), real_name=name) for n, name in enumerate(("赵小钱", "欧阳小锋"))]
    decrypted = []
    original = IdentityCrypto.decrypt

    def counting(self, token):
        decrypted.append(token)
        return original(self, token)

    monkeypatch.setattr(IdentityCrypto, "decrypt", counting)
    login(moderator)
    queue = client.get("/moderation/verifications").get_data(as_text=True)
    assert "赵*钱" in queue and "欧**锋" in queue
    assert decrypted == []
    review = client.get(f"/moderation/verifications/{reqs[0].id}").get_data(as_text=True)
    assert "赵*钱" in review and decrypted  # the single review page decrypts (to mask)


# --- English pages --------------------------------------------------------------------------------


def _english(c):
    assert c.post("/lang/en", data={"next": "/"}).status_code == 302
    return c


def test_the_close_page_says_its_sentence_in_one_piece_in_english(client, verified_user, login):
    _english(login(verified_user("leaving")))
    html = client.get("/me/close").get_data(as_text=True)
    assert re.search(r'<a href="/me/data\.json">[^<]+</a>\.', html), "the link should end an English sentence"
    assert "。" not in html
    assert "已注销用户" not in html


def test_the_queue_and_review_pages_use_the_readers_brackets(client, make_user, moderator, login, submit_request):
    req = submit_request(make_user("applicant", display_name="Ann"))
    _english(login(moderator))
    for path in ("/moderation/verifications", f"/moderation/verifications/{req.id}"):
        html = client.get(path).get_data(as_text=True)
        assert "Ann (applicant)" in html, path
        assert "（" not in html and "）" not in html, path


def test_a_closed_account_is_named_in_the_readers_language(
    client, make_user, moderator, login, submit_request, db, password
):
    from marketplace.identity import privacy

    leaving = make_user("leaving")
    req = submit_request(leaving)
    privacy.close_account(leaving, password)
    db.session.commit()
    login(moderator)
    path = f"/moderation/verifications/{req.id}"
    assert f"已注销用户（closed~{leaving.id}）" in client.get(path).get_data(as_text=True)
    html = _english(client).get(path).get_data(as_text=True)
    assert f"Closed account (closed~{leaving.id})" in html
    assert "已注销用户" not in html


def test_my_roles_are_listed_with_the_readers_separator(client, make_user, login):
    _english(login(make_user("staff", roles=("organiser", "inspector"))))
    html = client.get("/me/data").get_data(as_text=True)
    assert "、" not in html
