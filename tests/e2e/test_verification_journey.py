"""A new resident registers, logs in and submits real-name verification; a moderator approves it."""

import pytest

from marketplace.identity.validators import resident_id_check_char

pytestmark = pytest.mark.e2e


def _id_number() -> str:
    body = "64010619900307123"
    return body + resident_id_check_char(body)


def test_register_login_verify_and_get_approved(page_for, make_user, password):
    moderator = make_user("mod_e2e", roles=("moderator",))
    page = page_for()

    page.goto("/register")
    page.get_by_label("用户名").fill("xiaoli_2026")
    page.get_by_label("昵称").fill("小李的闲置")
    page.get_by_label("密码", exact=True).fill("Xunhuan-Shichang-88")
    page.get_by_label("再次输入密码").fill("Xunhuan-Shichang-88")
    page.get_by_role("button", name="注册").click()
    assert page.url.endswith("/me/verification")

    # Log out and back in, as the journey asks.
    page.get_by_role("button", name="退出").click()
    page.goto("/login")
    page.get_by_label("用户名").fill("xiaoli_2026")
    page.get_by_label("密码").fill("Xunhuan-Shichang-88")
    page.get_by_role("button", name="登录").click()
    page.goto("/me/verification")

    # A wrong check digit is caught on the field, nothing is stored.
    bad = _id_number()[:-1] + ("0" if _id_number()[-1] != "0" else "1")
    page.get_by_label("真实姓名").fill("李小红")
    page.get_by_label("居民身份证号").fill(bad)
    page.get_by_label("手机号").fill("+86 139 5100 2233")
    page.get_by_role("button", name="提交认证").click()
    assert page.locator(".field--error").count() >= 1
    assert page.get_by_label("真实姓名").input_value() == "李小红"

    page.get_by_label("居民身份证号").fill(_id_number())
    page.get_by_label("手机号").fill("+86 139 5100 2233")
    page.get_by_role("button", name="提交认证").click()
    page.goto("/me")
    body = page.locator("main").inner_text()
    assert "审核中" in body
    assert _id_number() not in page.content() and "13951002233" not in page.content()

    # The moderator approves in another browser.
    mod = page_for()
    mod.goto("/login")
    mod.get_by_label("用户名").fill(moderator.username)
    mod.get_by_label("密码").fill(password)
    mod.get_by_role("button", name="登录").click()
    mod.goto("/moderation/verifications")
    mod.locator(".card__title a").first.click()
    assert "李*红" in mod.locator("main").inner_text()
    mod.get_by_role("button", name="通过认证").click()

    page.reload()
    assert "已认证" in page.locator("main").inner_text()
