"""Listing photos: checked by content, re-encoded without metadata, served only where the listing is visible."""

from __future__ import annotations

import io
import re
import struct
import zlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from marketplace.listings import photos, service
from marketplace.listings.models import Listing, ListingPhoto
from tests.listings.sellers import (
    checklist_fields,
    jpeg_bytes,
    phone_answers,
)

GPS_IFD = 0x8825


def _jpeg_with_gps() -> bytes:
    """A JPEG whose EXIF says where it was taken (Yinchuan) and with which camera."""
    exif = Image.Exif()
    exif[0x010F] = "Huawei"  # Make
    exif[0x0110] = "Mate 60"  # Model
    exif[0x0112] = 1  # Orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (38.0, 28.0, 12.0)
    gps[3] = "E"
    gps[4] = (106.0, 16.0, 30.0)
    data = jpeg_bytes(size=(2400, 1800), exif=exif.tobytes())
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_IFD), "the test image must carry GPS data"
    return data


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims enormous dimensions (a decompression bomb's header)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _sell_form(*files, **fields) -> dict:
    data = {
        "category": "phone",
        "title": "华为 Mate 60 手机",
        "price": "3299",
        "district": "xixia",
        "description": "自用一年。",
        **checklist_fields(phone_answers()),
        "photos": [(io.BytesIO(content), name) for name, content in files],
    }
    data.update(fields)
    return data


def _error(html: str, name: str) -> str:
    match = re.search(rf'id="{name}-error"[^>]*>([^<]*)<', html)
    assert match, f"no error shown beside {name}"
    return match.group(1)


def _files(app) -> set[str]:
    folder = Path(app.instance_path) / "uploads" / "listings"
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


# --- checking and re-encoding ---------------------------------------------------------------------


class Upload:
    def __init__(self, content: bytes, filename: str = "photo.jpg"):
        self.stream = io.BytesIO(content)
        self.filename = filename


def test_gps_and_every_other_exif_field_are_removed(app):
    prepared = photos.prepare(Upload(_jpeg_with_gps()))
    for data in (prepared.full, prepared.thumb):
        image = Image.open(io.BytesIO(data))
        assert image.format == "JPEG" and image.mode == "RGB"
        assert not image.getexif() and "exif" not in image.info
        assert b"Exif" not in data and b"Huawei" not in data
    assert (prepared.width, prepared.height) == (1600, 1200)
    assert max(Image.open(io.BytesIO(prepared.thumb)).size) == 400


def test_a_transparent_png_becomes_a_jpeg_on_white(app):
    out = io.BytesIO()
    Image.new("RGBA", (50, 40), (0, 0, 0, 0)).save(out, "PNG")
    prepared = photos.prepare(Upload(out.getvalue(), "logo.png"))
    image = Image.open(io.BytesIO(prepared.full))
    assert image.format == "JPEG" and image.getpixel((10, 10))[0] > 240


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"just some notes, not a picture\n" * 20, "不是可识别的图片"),
        (b"%PDF-1.7\n" + b"0" * 100, "不是可识别的图片"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "不是可识别的图片"),
        (jpeg_bytes()[:200], "不是可识别的图片"),  # truncated
        (b"", "空文件"),
        (_png_header_only(20000, 20000), "像素太多"),
    ],
)
def test_what_is_not_a_usable_image_is_refused_by_content(app, content, says):
    with pytest.raises(service.Invalid) as exc:
        photos.prepare(Upload(content, "holiday.jpg"))
    assert says in exc.value.errors["photos"][0]
    assert "holiday.jpg" in exc.value.errors["photos"][0]


def test_a_file_over_8_mb_is_refused_without_reading_it_all(app):
    with pytest.raises(service.Invalid) as exc:
        photos.prepare(Upload(b"\xff\xd8" + b"0" * photos.MAX_BYTES, "big.jpg"))
    assert "8 MB" in exc.value.errors["photos"][0]


# --- the sell and edit forms ------------------------------------------------------------------------


def test_a_renamed_text_file_is_refused_and_the_form_kept(client, seller, login, db, app):
    login(seller)
    resp = client.post(
        "/sell?category=phone",
        data=_sell_form(("photo.jpg", jpeg_bytes()), ("receipt.jpg", b"this is a text file, renamed\n")),
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "receipt.jpg" in _error(html, "photos") and "不是可识别的图片" in _error(html, "photos")
    assert 'value="华为 Mate 60 手机"' in html and 'value="3299"' in html and "自用一年。" in html
    assert "请重新选择" in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Listing)) == 0
    assert _files(app) == set()


def test_oversized_files_get_a_clear_error_and_the_form_is_kept(client, seller, login):
    """Two files over 8 MB each: more than the site-wide request limit, still answered on the form."""
    big = b"\xff\xd8\xff" + b"0" * (photos.MAX_BYTES + 1024)
    login(seller)
    resp = client.post(
        "/sell?category=phone",
        data=_sell_form(("big1.jpg", big), ("big2.jpg", big)),
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "big1.jpg" in _error(html, "photos") and "8 MB" in _error(html, "photos")
    assert 'value="华为 Mate 60 手机"' in html


def test_photo_and_field_errors_are_shown_together(client, seller, login):
    login(seller)
    resp = client.post(
        "/sell?category=phone",
        data=_sell_form(("a.jpg", b"not an image"), title="x"),
        content_type="multipart/form-data",
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert _error(html, "photos") and _error(html, "title")


def test_photos_are_stored_without_gps_and_served(client, seller, login, db, app):
    login(seller)
    resp = client.post(
        "/sell?category=phone",
        data=_sell_form(("IMG_0001.JPG", _jpeg_with_gps()), ("second.png", jpeg_bytes(colour=(0, 90, 200)))),
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    listing = db.session.scalar(sa.select(Listing))
    assert [p.position for p in listing.photos] == [0, 1]
    stem = listing.photos[0].stem
    assert re.fullmatch(r"[0-9a-f]{32}", stem) and "IMG_0001" not in stem
    assert f"{stem}.jpg" in _files(app) and f"{stem}.thumb.jpg" in _files(app)
    html = client.get(f"/listings/{listing.id}").get_data(as_text=True)
    assert f'src="/photos/{stem}.jpg"' in html and 'alt="华为 Mate 60 手机：第 1 张照片"' in html
    served = client.get(f"/photos/{stem}.jpg")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    image = Image.open(io.BytesIO(served.get_data()))
    assert not image.getexif() and b"Exif" not in served.get_data()
    assert client.get(f"/photos/{stem}.thumb.jpg").status_code == 200
    assert f"/photos/{stem}.thumb.jpg" in client.get("/").get_data(as_text=True)  # the card's cover


def test_the_api_lists_the_photos(app, api, phone, db):
    photos.add_photos(phone.seller, phone, [photos.prepare(Upload(jpeg_bytes(size=(2000, 1000))))])
    db.session.commit()
    (photo,) = api.get(f"/api/v1/listings/{phone.id}").get_json()["photos"]
    stem = phone.photos[0].stem
    assert photo == {
        "url": f"/photos/{stem}.jpg",
        "thumb_url": f"/photos/{stem}.thumb.jpg",
        "width": 1600,
        "height": 800,
    }
    (item,) = api.get("/api/v1/listings").get_json()["items"]
    assert item["thumb_url"] == f"/photos/{stem}.thumb.jpg"


def test_photos_of_hidden_listings_are_not_served_to_others(app, client, phone, buyer, moderator, login, db):
    stems = photos.add_photos(phone.seller, phone, [photos.prepare(Upload(jpeg_bytes()))])
    db.session.commit()
    url = f"/photos/{stems[0]}.jpg"
    assert app.test_client().get(url).status_code == 200
    service.withdraw(phone.seller, phone)
    db.session.commit()
    assert app.test_client().get(url).status_code == 404
    assert login(buyer, app.test_client()).get(url).status_code == 404
    owner = login(phone.seller, app.test_client()).get(url)
    assert owner.status_code == 200 and "no-store" in owner.headers["Cache-Control"]
    assert login(moderator, app.test_client()).get(url).status_code == 200
    for odd in ("/photos/../../secret.jpg", "/photos/ABC.jpg", f"/photos/{stems[0]}.big.jpg", "/photos/x.thumb.jpg"):
        assert client.get(odd).status_code == 404


def test_at_most_nine_photos(app, phone, db):
    prepared = photos.prepare(Upload(jpeg_bytes(size=(60, 40))))
    photos.add_photos(phone.seller, phone, [prepared] * 9)
    db.session.commit()
    with pytest.raises(service.Invalid) as exc:
        photos.add_photos(phone.seller, phone, [prepared])
    assert "9" in exc.value.errors["photos"][0]
    assert len(_files(app)) == 18


def test_the_seller_reorders_and_deletes_photos_on_the_edit_page(client, app, phone, login, db):
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    photos.add_photos(phone.seller, phone, [photos.prepare(Upload(jpeg_bytes(colour=c))) for c in colours])
    db.session.commit()
    first, second, third = (p.id for p in phone.photos)
    login(phone.seller)
    html = client.get(f"/listings/{phone.id}/edit").get_data(as_text=True)
    assert f"/listings/{phone.id}/photos/{first}/delete" in html and "前移" in html and "后移" in html
    client.post(f"/listings/{phone.id}/photos/{third}/move", data={"direction": "up"})
    db.session.expire_all()
    assert [p.id for p in db.session.get(Listing, phone.id).photos] == [first, third, second]
    assert "确认删除" in client.get(f"/listings/{phone.id}/photos/{first}/delete").get_data(as_text=True)
    stem = db.session.get(ListingPhoto, first).stem
    client.post(f"/listings/{phone.id}/photos/{first}/delete", data={})
    db.session.expire_all()
    listing = db.session.get(Listing, phone.id)
    assert [(p.id, p.position) for p in listing.photos] == [(third, 0), (second, 1)]
    assert f"{stem}.jpg" not in _files(app)


def test_another_user_cannot_touch_the_photos(client, phone, buyer, login, db):
    photos.add_photos(phone.seller, phone, [photos.prepare(Upload(jpeg_bytes()))])
    db.session.commit()
    photo_id = phone.photos[0].id
    login(buyer)
    assert client.get(f"/listings/{phone.id}/photos/{photo_id}/delete").status_code == 403
    assert client.post(f"/listings/{phone.id}/photos/{photo_id}/delete", data={}).status_code == 403
    assert client.post(f"/listings/{phone.id}/photos/{photo_id}/move", data={"direction": "up"}).status_code == 403
    db.session.expire_all()
    assert len(db.session.get(Listing, phone.id).photos) == 1


def test_photos_added_on_the_edit_page_come_after_the_others(client, phone, login, db):
    photos.add_photos(phone.seller, phone, [photos.prepare(Upload(jpeg_bytes()))])
    db.session.commit()
    login(phone.seller)
    form = _sell_form(("more.jpg", jpeg_bytes(colour=(1, 2, 3))), title=phone.title)
    resp = client.post(f"/listings/{phone.id}/edit", data=form, content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    db.session.expire_all()
    assert [p.position for p in db.session.get(Listing, phone.id).photos] == [0, 1]


# --- resource limits and crafted files --------------------------------------------------------------


def _bomb_png(width: int = 4000, height: int = 4000) -> bytes:
    """A real, valid 1-bit PNG of 16 megapixels that compresses to a few KB."""
    out = io.BytesIO()
    Image.new("1", (width, height)).save(out, "PNG", optimize=True)
    return out.getvalue()


def test_too_many_uploads_are_refused_by_count_before_any_is_decoded(client, seller, login, db, monkeypatch):
    opened = []
    real_open = Image.open

    def counting_open(*args, **kwargs):
        opened.append(args)
        return real_open(*args, **kwargs)

    monkeypatch.setattr(photos.Image, "open", counting_open)
    login(seller)
    bombs = [(f"p{i}.png", _png_header_only(7070, 7070)) for i in range(12)]
    resp = client.post("/sell?category=phone", data=_sell_form(*bombs), content_type="multipart/form-data")
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "最多 9 张照片" in _error(html, "photos")
    assert 'value="华为 Mate 60 手机"' in html
    assert opened == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Listing)) == 0


def test_the_edit_page_counts_the_photos_already_there(client, phone, login, db, monkeypatch):
    prepared = photos.prepare(Upload(jpeg_bytes(size=(60, 40))))
    photos.add_photos(phone.seller, phone, [prepared] * 8)
    db.session.commit()
    opened = []
    monkeypatch.setattr(photos.Image, "open", lambda *a, **k: opened.append(a))
    login(phone.seller)
    form = _sell_form(("a.jpg", jpeg_bytes()), ("b.jpg", jpeg_bytes()), title=phone.title)
    resp = client.post(f"/listings/{phone.id}/edit", data=form, content_type="multipart/form-data")
    assert resp.status_code == 422
    assert "还能再加 1 张" in _error(resp.get_data(as_text=True), "photos")
    assert opened == []


def test_a_small_file_claiming_many_pixels_is_refused_as_a_bomb(client, seller, login, db, app):
    bomb = _bomb_png()
    assert len(bomb) < 16_000_000 // photos.MAX_PIXELS_PER_BYTE
    login(seller)
    resp = client.post("/sell?category=phone", data=_sell_form(("bomb.png", bomb)), content_type="multipart/form-data")
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "bomb.png" in _error(html, "photos") and "疑似恶意文件" in _error(html, "photos")
    assert 'value="华为 Mate 60 手机"' in html and 'value="3299"' in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Listing)) == 0
    assert _files(app) == set()


def test_the_pixel_limit_is_24_megapixels(app):
    with pytest.raises(service.Invalid) as exc:
        photos.prepare(Upload(_png_header_only(5000, 5000), "big.png"))  # 25 MP
    assert "像素太多" in exc.value.errors["photos"][0]


def test_a_large_photo_is_shrunk_right_after_decoding(app, monkeypatch):
    sizes = []
    real = photos._pixels_only
    monkeypatch.setattr(photos, "_pixels_only", lambda image: sizes.append(image.size) or real(image))
    prepared = photos.prepare(Upload(jpeg_bytes(size=(3000, 2000)), "big.jpg"))
    assert sizes == [(1600, 1067)] and (prepared.width, prepared.height) == (1600, 1067)


def test_a_jpeg_with_a_mangled_exif_block_is_kept_without_its_orientation(app):
    data = (Path(__file__).parent / "fixtures" / "exif_typeerror.jpg").read_bytes()
    prepared = photos.prepare(Upload(data, "crafted.jpg"))
    assert (prepared.width, prepared.height) == (64, 48)


def test_any_other_error_inside_pillow_means_not_an_image(app, monkeypatch):
    data = jpeg_bytes()

    def boom(self, *args, **kwargs):
        raise TypeError("something Pillow did not expect")

    monkeypatch.setattr(Image.Image, "load", boom)
    with pytest.raises(service.Invalid) as exc:
        photos.prepare(Upload(data, "odd.jpg"))
    assert "不是可识别的图片" in exc.value.errors["photos"][0]


def test_a_crafted_jpeg_on_the_sell_form_is_not_a_server_error(client, seller, login):
    data = (Path(__file__).parent / "fixtures" / "exif_typeerror.jpg").read_bytes()
    login(seller)
    resp = client.post(
        "/sell?category=phone", data=_sell_form(("crafted.jpg", data)), content_type="multipart/form-data"
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
