"""Masking as DESIGN.md shows it: 1****************X, 138****5678, 张* / 张*三."""

from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.identity.masking import looks_like_pii, mask_id_number, mask_keep_ends, mask_name, mask_phone
from tests.identity.factories import make_id_number
from tests.identity.unicode_forms import ARABIC_INDIC, FOREIGN_DIGITS, LOOKALIKES
from tests.pii import find_pii


def test_id_number_keeps_first_and_last_character():
    assert mask_id_number("11010519491231002X") == "1" + "*" * 16 + "X"
    assert mask_id_number(None) is None


def test_phone_keeps_first_three_and_last_four_digits():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("") is None
    assert mask_phone("12345") == "*****"


def test_names():
    assert mask_name("张三") == "张*"
    assert mask_name("张小三") == "张*三"
    assert mask_name("欧阳小锋") == "欧**锋"
    assert mask_name("买买提·艾力") == "买****力"
    assert mask_name("王") == "*"
    assert mask_name(" 李四 ") == "李*"


def test_short_values_are_starred_entirely():
    assert mask_keep_ends("ab") == "**"
    assert mask_keep_ends("2023123456") == "2********6"


@given(st.text("0123456789", min_size=17, max_size=17))
def test_a_masked_id_number_is_never_personal_data(digits):
    number = digits[:6] + "19900101" + digits[14:17]
    masked = mask_id_number(number + "X")
    assert find_pii(masked) == []
    assert masked[0] == number[0] and masked[-1] == "X"


@given(st.sampled_from("3456789"), st.text("0123456789", min_size=9, max_size=9))
def test_a_masked_phone_is_never_personal_data(second, rest):
    number = "1" + second + rest
    masked = mask_phone(number)
    assert find_pii(masked) == []
    assert masked.startswith(number[:3]) and masked.endswith(number[-4:])


def test_free_text_carrying_numbers_is_recognised():
    assert looks_like_pii("请联系 13912345678")
    assert looks_like_pii("证号 " + make_id_number())
    assert looks_like_pii("139 1234 5678")
    assert not looks_like_pii("身份证照片与填写的姓名不一致")
    assert not looks_like_pii("订单 20261129")
    assert not looks_like_pii(None)


def test_numbers_written_with_dots_double_spaces_or_other_digits_are_recognised():
    assert looks_like_pii("139.1234.5678")
    assert looks_like_pii("139 1234  5678")
    assert looks_like_pii("139·1234·5678")
    assert looks_like_pii("(139) 1234-5678")
    assert looks_like_pii("+86 139 1234 5678")
    assert looks_like_pii("请联系１３９１２３４５６７８")
    assert looks_like_pii("１３９－１２３４－５６７８")
    assert looks_like_pii("".join(ARABIC_INDIC[c] for c in "13912345678"))
    assert looks_like_pii("证号 110105 19491231 002x")
    assert looks_like_pii("证号 １１０１０５１９４９１２３１００２Ｘ")


def test_dates_times_and_short_numbers_are_not_personal_numbers():
    assert not looks_like_pii("2026-11-29 10:30 提交的照片不清晰")
    assert not looks_like_pii("第 3 张照片，编号 12-34")
    assert not looks_like_pii("２０２６年１１月２９日")


_SEPARATOR_RUNS = st.text(" -.·/\u3000－．\u2014", min_size=0, max_size=3)


def _any_digit(d: str):
    return st.sampled_from([d, *LOOKALIKES[d], *FOREIGN_DIGITS[d]])


@settings(max_examples=50)
@given(st.sampled_from("3456789"), st.text("0123456789", min_size=9, max_size=9), st.data())
def test_a_phone_number_however_written_is_recognised(second, rest, data):
    digits = "1" + second + rest
    text = ""
    for i, d in enumerate(digits):
        text += data.draw(_any_digit(d))
        if i < len(digits) - 1:
            text += data.draw(_SEPARATOR_RUNS)
    assert looks_like_pii("理由：" + text + "。")
