"""The suite-wide PII watch itself: it must notice a leak, and not cry wolf over masked data."""

from tests.pii import PiiWatch, find_pii


def test_finds_unmasked_id_numbers_and_phones():
    assert find_pii("身份证 11010519491231002X，电话 +8613812345678") == ["11010519491231002X", "+8613812345678"]
    assert find_pii("id=53010219200508011x") == ["53010219200508011x"]
    assert find_pii("电话１３８１２３４５６７８") == ["13812345678"]


def test_ignores_masked_values_and_other_numbers():
    text = "1****************X 138****5678 订单 20261129000012345 token mp_Abc123 price 1380000000000"
    assert find_pii(text) == []
    # 18 digits with a wrong check digit are not an ID number.
    assert find_pii("110105194912310021") == []
    # Digits inside a random hex token (a photo's file name) are no phone number.
    assert find_pii("/media/photos/e913812345678af03c1d2b4e5f6a7b8c9-640.webp") == []


def test_watch_fails_the_test_on_a_leak(app, client):
    watch = PiiWatch()
    watch.check_text("log", "user phone 13912345678")
    try:
        watch.assert_clean()
    except AssertionError as exc:
        assert "139…" in str(exc) and "13912345678" not in str(exc)
    else:
        raise AssertionError("the watch missed a phone number")
