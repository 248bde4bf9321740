"""Demo listings for `seed-demo`: a few hundred believable items in every category and district.

Everything goes through the listings service, so checklists are graded by the engine
exactly as a seller's would be; a few listings get photos drawn on the fly with Pillow.
Deliberately included: an old fridge past its safe life (a safety warning) and an old
electric water heater that may only be given away for recycling (price 0).
"""

from __future__ import annotations

import io
import random
from datetime import date, timedelta

from PIL import Image, ImageDraw, ImageFont
from werkzeug.datastructures import FileStorage

from marketplace.accounts.models import User
from marketplace.db import utcnow
from marketplace.grading.engine import assess, get_standard
from marketplace.identity.places import DISTRICTS
from marketplace.identity.validators import is_valid_imei, is_valid_vin
from marketplace.listings import photos, service

PLAN = {
    "phone": 60,
    "appliance": 45,
    "vehicle": 12,
    "books": 50,
    "clothing": 35,
    "furniture": 35,
    "bicycles": 25,
    "baby": 20,
    "other": 18,
}
WITH_PHOTOS = 20
# Sellers who mostly sell one kind of thing.
SPECIALITY = {
    "liuyang": "phone",
    "huanbao_shop": "appliance",
    "zhouxin": "furniture",
    "yangfan": "bicycles",
    "nxu_he": "books",
    "chenjing": "baby",
}

PHONES = [
    ("华为", "Mate 60 Pro", ("256GB", "512GB"), ("雅川青", "雅丹黑", "白沙银"), (3800, 5200)),
    ("华为", "P50", ("128GB", "256GB"), ("曜金黑", "可可茶金"), (1400, 2100)),
    ("苹果", "iPhone 13", ("128GB", "256GB"), ("午夜色", "星光色", "蓝色"), (2300, 3200)),
    ("苹果", "iPhone 14 Pro", ("128GB", "256GB"), ("暗紫色", "深空黑色"), (4300, 5600)),
    ("苹果", "iPhone 11", ("64GB", "128GB"), ("黑色", "白色", "紫色"), (900, 1500)),
    ("小米", "14", ("256GB",), ("黑色", "白色", "岩石青"), (2100, 2900)),
    ("红米", "K60", ("256GB",), ("墨羽", "晴雪"), (1000, 1500)),
    ("OPPO", "Reno 10", ("256GB",), ("月海蓝", "溢彩金"), (1100, 1700)),
    ("vivo", "X90", ("256GB",), ("至黑", "告白"), (1900, 2700)),
    ("荣耀", "Magic5", ("256GB",), ("亮黑色", "燃橙色"), (1700, 2500)),
]
PHONE_WORDS = {"S": "99新 在保", "A": "95新 自用", "B": "9成新", "C": "8成新 功能正常", "D": "故障机 适合维修拆件"}
APPLIANCES = {
    "refrigerator": [("海尔", "BCD-216STPT", "三门冰箱 216 升"), ("美的", "BCD-271WTPZM", "对开门冰箱 271 升")],
    "air_conditioner": [("格力", "KFR-35GW", "1.5 匹变频挂机"), ("海信", "KFR-50LW", "2 匹柜机")],
    "washing_machine": [("小天鹅", "TG100V20WDG", "10 公斤滚筒洗衣机"), ("美的", "MB80V31", "8 公斤波轮洗衣机")],
    "dryer": [("海尔", "GBN90-636", "9 公斤热泵干衣机")],
    "range_hood": [("方太", "CXW-258-EMD2T", "侧吸油烟机"), ("老板", "CXW-200-27A3", "顶吸油烟机")],
    "gas_stove": [("华帝", "JZT-i10023B", "嵌入式双眼燃气灶")],
    "electric_water_heater": [("美的", "F60-21WB1", "60 升电热水器"), ("海尔", "EC6001-GC", "60 升储水式电热水器")],
    "microwave": [("格兰仕", "G70F20CN1L-DG", "20 升微波炉"), ("美的", "M1-L213B", "21 升微波炉")],
    "tv": [("小米", "L55M5-AD", "55 英寸 4K 电视"), ("TCL", "65V8E", "65 英寸液晶电视")],
    "other": [("九阳", "DJ13B-D08D", "破壁豆浆机"), ("戴森", "V8", "无线吸尘器")],
}
APPLIANCE_PRICES = {
    "refrigerator": (400, 1800),
    "air_conditioner": (600, 2200),
    "washing_machine": (300, 1200),
    "dryer": (1200, 2500),
    "range_hood": (300, 900),
    "gas_stove": (150, 500),
    "electric_water_heater": (200, 700),
    "microwave": (80, 300),
    "tv": (700, 2500),
    "other": (100, 1200),
}
CARS = [
    ("大众", "朗逸 1.5L 自动舒适版", "LSV", (50000, 90000)),
    ("丰田", "卡罗拉 1.2T 双擎", "LFM", (60000, 110000)),
    ("本田", "思域 220TURBO", "LHG", (70000, 120000)),
    ("日产", "轩逸 1.6L 经典", "LGB", (35000, 70000)),
    ("比亚迪", "秦 PLUS DM-i", "LGX", (60000, 95000)),
    ("五菱", "宏光 S 1.5L", "LZW", (15000, 35000)),
    ("哈弗", "H6 1.5T 两驱", "LGW", (45000, 85000)),
    ("别克", "英朗 15N", "LSG", (40000, 70000)),
]
SIMPLE = {
    "books": [
        ("《三体》全套三册", 35, 60),
        ("考研数学复习全书 2026 版", 20, 40),
        ("新概念英语 1–4 册", 30, 60),
        ("《活着》余华 精装", 10, 20),
        ("高等数学 同济第七版 上下册", 15, 30),
        ("雅思真题集 15–18", 40, 80),
        ("《平凡的世界》三册", 30, 50),
        ("C 语言程序设计 谭浩强", 10, 20),
        ("《明朝那些事儿》全七册", 50, 90),
        ("注册会计师教材 2025 全套", 60, 120),
        ("英语四六级词汇书", 8, 15),
        ("Python 编程：从入门到实践", 25, 45),
    ],
    "clothing": [
        ("波司登羽绒服 男款 L 码", 180, 400),
        ("优衣库摇粒绒外套 M 码", 40, 80),
        ("汉服 齐胸襦裙 全套", 120, 260),
        ("冲锋衣 三合一 XL 码", 150, 300),
        ("毛呢大衣 女款 S 码", 120, 280),
        ("耐克 Air Force 1 球鞋 42 码", 200, 380),
        ("纯棉床上四件套 1.8 米", 60, 120),
        ("手工羊毛围巾", 30, 70),
    ],
    "furniture": [
        ("实木书桌 1.2 米", 200, 450),
        ("布艺沙发 三人位", 400, 1200),
        ("宜家 毕利书架", 150, 300),
        ("双开门衣柜", 250, 600),
        ("餐桌椅一套 一桌四椅", 300, 800),
        ("人体工学电脑椅", 150, 450),
        ("1.5 米乳胶床垫", 300, 800),
        ("宿舍折叠桌", 30, 60),
        ("榆木茶几", 200, 500),
    ],
    "bicycles": [
        ("捷安特 ATX 660 山地车", 700, 1300),
        ("美利达 斯特拉 公路车", 1500, 3000),
        ("永久 复古自行车 28 寸", 150, 300),
        ("凤凰 折叠自行车 20 寸", 150, 280),
        ("迪卡侬 儿童自行车 16 寸", 120, 220),
        ("大行 P8 折叠车", 900, 1600),
    ],
    "baby": [
        ("好孩子 婴儿推车 可坐可躺", 200, 500),
        ("宝得适 儿童安全座椅", 400, 900),
        ("实木婴儿床 带蚊帐", 200, 450),
        ("学步车 防侧翻", 50, 120),
        ("婴儿背带 腰凳", 60, 150),
        ("乐高 得宝 大颗粒积木", 80, 200),
    ],
    "other": [
        ("雅马哈 F310 民谣吉他", 400, 700),
        ("加厚瑜伽垫 10mm", 20, 50),
        ("可调节哑铃 一对 20 公斤", 150, 300),
        ("迪卡侬 双人帐篷", 150, 300),
        ("卡西欧 电子琴 61 键", 350, 700),
        ("20 寸登机箱 万向轮", 80, 200),
        ("索尼 WH-1000XM4 降噪耳机", 700, 1100),
    ],
}
CONDITIONS = ["九成新", "八成新", "几乎全新，只用过几次", "正常使用痕迹", "买来没怎么用"]
REASONS = ["搬家带不走", "毕业清宿舍", "换了新的", "家里用不上了", "孩子长大了用不上", "闲置在家占地方"]
HANDOVER = ["{d}可以当面交易", "下班后在{d}面交", "{d}自提，周末都在家", "{d}附近可以送货上门"]
COLOURS = {
    "phone": (29, 78, 216),
    "appliance": (15, 118, 110),
    "vehicle": (55, 65, 81),
    "books": (138, 58, 18),
    "clothing": (157, 23, 77),
    "furniture": (124, 74, 11),
    "bicycles": (21, 128, 61),
    "baby": (162, 28, 175),
    "other": (82, 82, 91),
}
_VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
_VIN_YEAR = "ABCDEFGHJKLMNPRSTVWXY123456789"  # 2010 → A, 2011 → B, …


def _price(rng: random.Random, low: float, high: float, factor: float = 1.0) -> str:
    """A believable asking price in yuan: tens above 500, fives above 100, whole yuan, halves under 20."""
    value = rng.uniform(low, high) * factor
    if value >= 500:
        return str(int(round(value, -1)))
    if value >= 100:
        return str(int(round(value / 5) * 5))
    if value >= 20:
        return str(round(value))
    return f"{round(value * 2) / 2:g}"


def _imei(rng: random.Random) -> str:
    body = "86" + "".join(rng.choice("0123456789") for _ in range(12))
    return next(body + d for d in "0123456789" if is_valid_imei(body + d))


def _vin(rng: random.Random, wmi: str, year: int) -> str:
    vds = "".join(rng.choice(_VIN_CHARS) for _ in range(5))
    tail = _VIN_YEAR[(year - 2010) % 30] + rng.choice("ABCDEFGH") + "".join(rng.choice("0123456789") for _ in range(6))
    return next(wmi + vds + c + tail for c in "0123456789X" if is_valid_vin(wmi + vds + c + tail))


def _handover(rng: random.Random, district: str) -> str:
    return rng.choice(HANDOVER).format(d=str(DISTRICTS[district]))


# --- one listing per category -------------------------------------------------------------------


def _phone(rng: random.Random, district: str) -> dict:
    brand, model, storages, colours, (low, high) = rng.choice(PHONES)
    storage, colour = rng.choice(storages), rng.choice(colours)
    target = rng.choices("SABCD", weights=(8, 30, 30, 20, 12))[0]
    looks = {"S": "flawless", "A": "invisible_20cm", "B": "invisible_50cm", "C": "visible", "D": "visible"}[target]
    answers = {
        "account_locked": False,
        "reported_lost": False,
        "imei": _imei(rng),
        "model": f"{brand} {model} {storage}",
        "functions": "all_working",
        "battery_health": rng.randint(92, 100) if target in "SA" else rng.randint(80, 95),
        "screen": looks if target != "A" else rng.choice(("flawless", "invisible_20cm")),
        "body": looks,
        "water_damage": "none",
        "repairs": "none" if target in "SB" else rng.choice(("none", "original_parts")),
        "data_wiped": "wiped" if rng.random() < 0.85 else "not_yet",
    }
    if target == "C" and rng.random() < 0.4:
        answers["repairs"] = "non_original_parts"
    note = rng.choice(("一直带壳贴膜", "换新机后闲置", "工作备用机，用得很少", "主要看视频，没摔过"))
    if target == "D":
        fault = rng.choice(("screen", "battery", "functions", "water"))
        note = {
            "screen": "不小心摔了，屏幕碎了但显示正常",
            "battery": "电池老化，续航只有半天",
            "functions": "偶尔信号不稳定，听筒声音小",
            "water": "进过水，能开机，其他功能没细测",
        }[fault]
        answers.update(
            {
                "screen": {"screen": "cracked"}.get(fault, "visible"),
                "battery_health": rng.randint(62, 79) if fault == "battery" else 84,
                "functions": "minor_fault" if fault == "functions" else "all_working",
                "water_damage": "water_damaged" if fault == "water" else "none",
            }
        )
    grade = assess("phone", answers).grade
    factor = {"S": 1.0, "A": 0.92, "B": 0.82, "C": 0.7, "D": 0.35}[grade]
    years = rng.choice(("半年", "一年", "一年半", "两年"))
    description = (
        f"{years}前在{rng.choice(('京东自营', '官方旗舰店', '线下专卖店'))}购入，"
        f"{note}。\n"
        f"电池健康 {answers['battery_health']}%。"
        f"{rng.choice(('原装充电器和包装盒都在', '只有手机和数据线', '送两个手机壳'))}。\n\n"
        f"{_handover(rng, district)}，支持当面验机。"
    )
    return {
        "title": f"{brand} {model} {storage} {colour} {PHONE_WORDS[grade]}",
        "description": description,
        "price": _price(rng, low, high, factor),
        "grading": answers,
        "label": model,
    }


def _appliance(rng: random.Random, district: str, kind: str | None = None, year: int | None = None) -> dict:
    standard = get_standard("appliance")
    kind = kind or rng.choice(list(APPLIANCES))
    life = standard.item("type").option(kind).safe_life_years
    this_year = date.today().year
    # Within its safe life unless told otherwise (the two old ones are made on purpose).
    year = year or rng.randint(this_year - (life - 1 if life else 9), this_year)
    brand, model, name = rng.choice(APPLIANCES[kind])
    wear = rng.random()
    answers = {
        "recalled": False,
        "safety_modified": False,
        "type": kind,
        "brand": brand,
        "model": model,
        "production_year": year,
        "appearance": "like_new" if wear < 0.35 else "light_wear" if wear < 0.85 else "visible_damage",
        "function_test": "all_ok" if wear < 0.9 else rng.choice(("minor_fault", "main_fault")),
        "noise": "normal" if wear < 0.6 else "slight",
        "leaks": "none",
        "electrical_safety": "pass",
        "energy_label": rng.choice(("1", "1", "2", "3", "unknown")),
        "repair_history": "none" if wear < 0.75 else "repaired",
    }
    if answers["repair_history"] == "repaired":
        answers["replaced_parts"] = rng.choice(("更换过启动继电器", "换过排水泵", "更换过遥控器和滤网"))
    result = assess("appliance", answers)
    low, high = APPLIANCE_PRICES[kind]
    age = this_year - year
    price = "0" if result.recycle_only else _price(rng, low, high, max(0.25, 1 - age * 0.08))
    description = (
        f"{year} 年购入，{rng.choice(REASONS)}。{rng.choice(('一直正常使用', '每年清洗保养', '用得不多'))}，"
        f"{'有维修记录，已如实填写' if answers['repair_history'] == 'repaired' else '没有维修过'}。\n\n"
        f"{_handover(rng, district)}，需要自己搬运。"
    )
    if result.recycle_only:
        description = (
            f"{year} 年的{name}，已超过安全使用年限，只能交给回收，免费送给有资质的回收商。\n\n"
            f"{_handover(rng, district)}。"
        )
    words = {"A": "近新", "B": "成色好", "C": "有瑕疵", "D": "故障 仅供拆件"}.get(result.grade, "")
    return {
        "title": f"{brand} {name} {year} 年 {words}".strip(),
        "description": description,
        "price": price,
        "grading": answers,
        "label": model,
    }


def _vehicle(rng: random.Random, district: str, accident: bool = False) -> dict:
    standard = get_standard("vehicle")
    brand, model, wmi, (low, high) = rng.choice(CARS)
    year = rng.randint(2013, date.today().year - 1)
    age = date.today().year - year
    mileage = age * rng.randint(8000, 20000)
    # Most items fine; older cars show more wear (the score falls by the deductions).
    wear = min(0.6, age * 0.02 + rng.random() * 0.15)
    answers: dict = {gate.key: False for gate in standard.gates}
    answers.update(vin=_vin(rng, wmi, year), first_registration=f"{year}-{rng.randint(1, 12):02d}-15", mileage=mileage)
    for item in standard.items:
        if item.type != "choice":
            continue
        if item.section == "frame":
            answers[item.key] = "none"
            continue
        roll = rng.random()
        index = 0 if roll > wear else 1 if roll > wear * 0.25 else 2
        answers[item.key] = item.options[min(index, len(item.options) - 1)].value
    if accident:
        answers["frame_left_front_rail"] = "SH"
    factor = max(0.3, 1 - age * 0.08) * (0.6 if accident else 1)
    description = (
        f"{year} 年上牌，{rng.choice(('一手车', '二手接手后开了三年'))}，"
        f"{rng.choice(('按时在 4S 店保养', '保养记录齐全'))}。"
        f"{'前纵梁有烧焊修复，已如实申报为事故车。' if accident else '无重大事故，小剐蹭已如实填写。'}\n\n"
        f"{_handover(rng, district)}，欢迎带第三方检测。"
    )
    return {
        "title": f"{year} 款 {brand}{model} {mileage / 10000:.1f} 万公里",
        "description": description,
        "price": _price(rng, low, high, factor),
        "grading": answers,
        "label": f"{wmi} {year}",
    }


def _simple(rng: random.Random, category: str, district: str) -> dict:
    title, low, high = rng.choice(SIMPLE[category])
    description = f"{rng.choice(CONDITIONS)}，{rng.choice(REASONS)}。\n\n{_handover(rng, district)}。"
    free = category in ("books", "baby") and rng.random() < 0.08
    label = "".join(c for c in title if c.isascii()).strip() or category.upper()
    return {
        "title": title,
        "description": description,
        "price": "0" if free else _price(rng, low, high),
        "label": label,
    }


# --- photos ---------------------------------------------------------------------------------------


def _photo(rng: random.Random, category: str, label: str, n: int) -> FileStorage:
    """A simple picture: the category's colour, a shape standing for the item, and a label."""
    width, height = 800, 600
    base = COLOURS[category]
    image = Image.new("RGB", (width, height), tuple(min(255, c + 150) for c in base))
    draw = ImageDraw.Draw(image)
    box = (rng.randint(110, 220), rng.randint(80, 150), rng.randint(580, 690), rng.randint(420, 500))
    if category in ("phone", "books", "furniture", "appliance"):
        draw.rounded_rectangle(box, radius=36, fill=base, outline=(255, 255, 255), width=8)
    else:
        draw.ellipse(box, fill=base, outline=(255, 255, 255), width=8)
    font = ImageFont.load_default(size=56)
    draw.text((width // 2, box[3] + 50), f"{label[:18]} · {n}", fill=(30, 30, 30), font=font, anchor="mm")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    out.seek(0)
    return FileStorage(stream=out, filename=f"demo-{n}.jpg", content_type="image/jpeg")


# --- all of them -------------------------------------------------------------------------------------


def _plan(rng: random.Random) -> list[tuple[str, dict]]:
    """(category, options) for every listing, shuffled so the newest page mixes categories."""
    plan = [(category, {}) for category, n in PLAN.items() for _ in range(n)]
    plan.append(("appliance", {"kind": "refrigerator", "year": date.today().year - 13}))
    plan.append(("appliance", {"kind": "electric_water_heater", "year": date.today().year - 12}))
    plan.append(("vehicle", {"accident": True}))
    rng.shuffle(plan)
    return plan


def _seller(rng: random.Random, sellers: list[tuple[User, str]], category: str) -> tuple[User, str]:
    experts = [s for s in sellers if SPECIALITY.get(s[0].username) == category]
    if experts and rng.random() < 0.5:
        return rng.choice(experts)
    return rng.choice(sellers)


def seed_listings(sellers: list[tuple[User, str]], rng: random.Random) -> dict[str, int]:
    """Create the demo listings for (seller, home district) pairs; returns the count per category."""
    plan = _plan(rng)
    start = utcnow() - timedelta(days=60)
    step = timedelta(days=60) / len(plan)
    counts = dict.fromkeys(PLAN, 0)
    with_photos = set(rng.sample(range(len(plan)), WITH_PHOTOS))
    for i, (category, options) in enumerate(plan):
        seller, home = _seller(rng, sellers, category)
        district = home if rng.random() < 0.6 else rng.choice(list(DISTRICTS))
        if category == "phone":
            spec = _phone(rng, district)
        elif category == "appliance":
            spec = _appliance(rng, district, **options)
        elif category == "vehicle":
            spec = _vehicle(rng, district, **options)
        else:
            spec = _simple(rng, category, district)
        label = spec.pop("label")
        listing = service.create(seller, service.ListingInput(category=category, district=district, **spec))
        listing.created_at = listing.updated_at = start + step * i
        if i in with_photos:
            prepared = [photos.prepare(_photo(rng, category, label, n)) for n in range(1, rng.randint(1, 3) + 1)]
            photos.add_photos(seller, listing, prepared)
        roll = rng.random()
        if roll < 0.05:
            service.mark_sold(seller, listing)
        elif roll < 0.09:
            service.withdraw(seller, listing)
        counts[category] += 1
    return counts
