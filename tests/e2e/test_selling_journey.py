"""A verified seller lists a phone with its checklist and a photo; buyers find it by searching 手机."""

import pytest

from tests.e2e.pages import log_in
from tests.listings.sellers import IMEI, jpeg_bytes, phone_answers

pytestmark = pytest.mark.e2e


def _fill_checklist(page, answers):
    for key, value in answers.items():
        name = f"grading-{key}"
        field = page.locator(f'[name="{name}"]').first
        if isinstance(value, bool):
            page.locator(f'input[name="{name}"][value="{"yes" if value else "no"}"]').check()
        elif field.evaluate("el => el.tagName") == "SELECT":
            field.select_option(str(value))
        else:
            field.fill(str(value))


def test_list_a_phone_see_grade_a_and_find_it(page_for, verified_user, make_user, password):
    seller = verified_user("seller_e2e", real_name="赵小兰")
    newcomer = make_user("newbie_e2e")

    # Someone not yet verified is sent to verification.
    page = page_for()
    log_in(page, newcomer, password)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="发布闲置").click()
    assert "实名认证" in page.locator("main").inner_text()

    page = page_for()
    log_in(page, seller, password)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="发布闲置").click()
    page.get_by_role("link", name="手机").click()
    page.get_by_label("标题").fill("华为 Mate 60 手机 256GB")
    page.get_by_label("价格（元）").fill("3299")
    page.get_by_label("所在区县").select_option("jinfeng")
    page.get_by_label("描述").fill("自用一年，带壳贴膜。")
    _fill_checklist(page, phone_answers(account_locked=True))
    page.get_by_role("button", name="发布").click()

    # An account-locked phone is refused with the reason, and nothing typed is lost.
    main = page.locator("main").inner_text()
    assert "账号锁未解除" in main
    assert page.get_by_label("标题").input_value() == "华为 Mate 60 手机 256GB"
    assert page.locator('[name="grading-imei"]').input_value() == IMEI

    page.locator('input[name="grading-account_locked"][value="no"]').check()
    page.get_by_label("照片（最多 9 张）").set_input_files(
        [{"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes()}]
    )
    page.get_by_role("button", name="发布").click()
    main = page.locator("main").inner_text()
    assert "A（95新）" in main and "¥3,299" in main
    assert page.locator("main img").first.get_attribute("alt") == "华为 Mate 60 手机 256GB：第 1 张照片"

    # A buyer searches 手机 from the home page.
    buyer = page_for()
    buyer.goto("/")
    buyer.get_by_label("搜索商品").fill("手机")
    buyer.get_by_role("button", name="搜索").click()
    buyer.get_by_role("link", name="华为 Mate 60 手机 256GB").click()
    main = buyer.locator("main").inner_text()
    assert "A（95新）" in main and "赵*兰" in main and "赵小兰" not in main
