"""What orders' codes are called on pages and in messages (Chinese msgids, translated)."""

from flask_babel import lazy_gettext as _l

STATUS_LABELS = {
    "requested": _l("待卖家确认"),
    "accepted": _l("已接受，待交接"),
    "completed": _l("已完成"),
    "cancelled": _l("已取消"),
    "declined": _l("已关闭"),
    "disputed": _l("纠纷处理中"),
}
PAYMENT_LABELS = {"cash": _l("现金"), "wechat": _l("微信支付"), "alipay": _l("支付宝"), "other": _l("其他方式")}
PARTY_LABELS = {"buyer": _l("买家"), "seller": _l("卖家"), "moderator": _l("审核员")}
EVENT_LABELS = {
    "requested": _l("买家发出购买请求"),
    "accepted": _l("卖家接受请求，商品已预留"),
    "completed": _l("买家确认收货，交易完成"),
    "auto_completed": _l("接受后 7 天未确认，自动完成"),
    "cancelled": _l("订单取消"),
    "declined": _l("商品已售出，请求自动关闭"),
    "disputed": _l("提出纠纷，等待审核员处理"),
    "resolved": _l("审核员处理了纠纷"),
}
