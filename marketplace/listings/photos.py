"""Listing photos: checked by their content, re-encoded without metadata, stored under instance/,
and attached to, reordered on and removed from a listing by its seller.

An upload is trusted for nothing: not its name, not its MIME type. Pillow must
recognise the bytes as one of a few image formats, the pixel count must stay under
a limit and be plausible for the file's size (decompression bombs) before anything is
decoded, the image is shrunk to the size kept right after decoding, and what is kept is a
fresh RGB JPEG built from the pixels alone, so EXIF (GPS included), XMP, ICC
profiles and comments are all gone. Files are `<stem>.jpg` and `<stem>.thumb.jpg`
with a random stem, in `<instance>/uploads/listings/`.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, ImageOps

from marketplace.accounts.models import User
from marketplace.db import db
from marketplace.errors import Invalid, NotFound
from marketplace.listings import service
from marketplace.listings.models import MAX_PHOTOS, Listing, ListingPhoto

MAX_BYTES = 8 * 1024 * 1024
# 24 megapixels: more than any photo we keep needs; a bomb claiming more is refused unread.
MAX_PIXELS = 24_000_000
# Camera photos hold well under 100 pixels per byte of file; thousands mean a decompression bomb.
MAX_PIXELS_PER_BYTE = 2000
LONG_SIDE = 1600
THUMB_SIDE = 400
QUALITY = 85
# Formats Pillow may open an upload as (a multi-picture JPEG from a phone opens as JPEG, then MPO).
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
STEM = re.compile(r"[0-9a-f]{32}")
FIELD = "photos"


@dataclass(frozen=True)
class Prepared:
    """A checked, re-encoded photo held in memory until it is saved."""

    full: bytes
    thumb: bytes
    width: int
    height: int


def _refuse(message: str) -> Invalid:
    return Invalid(message, errors={FIELD: [message]})


def _shown_name(filename: str | None) -> str:
    # The client's file name goes back into an error message only as a short, harmless label.
    name = os.path.basename((filename or "").replace("\\", "/"))
    return name[:40] or _("未命名文件")


def _read_limited(stream, limit: int) -> bytes | None:
    data = stream.read(limit + 1)
    return None if len(data) > limit else data


def _encode(image: Image.Image, side: int) -> tuple[bytes, int, int]:
    copy = image.copy()
    copy.thumbnail((side, side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    copy.save(out, "JPEG", quality=QUALITY, optimize=True, progressive=True)
    return out.getvalue(), copy.width, copy.height


def _pixels_only(image: Image.Image) -> Image.Image:
    """An RGB image holding nothing but the pixels (transparency flattened onto white)."""
    try:
        upright = ImageOps.exif_transpose(image)  # honour the camera's orientation before EXIF goes
    except Exception:
        upright = image  # a mangled EXIF block (Pillow 13 raises TypeError) only costs the orientation
    image = upright
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        image = background
    elif image.mode != "RGB":
        image = image.convert("RGB")
    clean = Image.new("RGB", image.size)
    clean.paste(image)
    return clean


def prepare(upload) -> Prepared:
    """Check and re-encode one uploaded file (a werkzeug FileStorage); Invalid with a field error."""
    name = _shown_name(getattr(upload, "filename", None))
    data = _read_limited(upload.stream, MAX_BYTES)
    if data is None:
        raise _refuse(_("“%(name)s”超过 8 MB，请压缩后再上传", name=name))
    if not data:
        raise _refuse(_("“%(name)s”是空文件", name=name))
    too_many = _("“%(name)s”的像素太多（最多 2400 万像素）", name=name)
    bomb = _("“%(name)s”文件很小却声称有极多像素，疑似恶意文件，无法使用", name=name)
    not_an_image = _("“%(name)s”不是可识别的图片：请上传 JPEG、PNG、WebP 或 GIF 照片", name=name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
            pixels = image.width * image.height
            if pixels > MAX_PIXELS:
                raise _refuse(too_many)
            if pixels > MAX_PIXELS_PER_BYTE * len(data):
                raise _refuse(bomb)
            if image.format in ("JPEG", "MPO"):
                # Decode at a reduced scale when that still covers the long side we keep.
                image.draft("RGB", (LONG_SIDE, LONG_SIDE))
            image.seek(0)
            image.load()
            # Shrink before any copy, so every later step works on at most LONG_SIDE² pixels.
            image.thumbnail((LONG_SIDE, LONG_SIDE), Image.Resampling.LANCZOS)
            clean = _pixels_only(image)
    except Invalid:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse(too_many) from None
    except Exception:  # unidentified, truncated, corrupt or crafted: a field error, never a 500
        raise _refuse(not_an_image) from None
    full, width, height = _encode(clean, LONG_SIDE)
    thumb, _w, _h = _encode(clean, THUMB_SIDE)
    return Prepared(full=full, thumb=thumb, width=width, height=height)


def prepare_all(uploads, room: int = MAX_PHOTOS) -> list[Prepared]:
    """Prepare every non-empty upload of a form field; Invalid lists every file at fault.

    `room` is how many more photos the listing takes: more files than that are
    refused before any of them is read or decoded.
    """
    given = [u for u in uploads or [] if u is not None and getattr(u, "filename", "")]
    if len(given) > room:
        room = max(room, 0)
        message = _("每件商品最多 %(max)s 张照片，还能再加 %(n)s 张", max=MAX_PHOTOS, n=room)
        raise Invalid(message, errors={FIELD: [message]})
    prepared, messages = [], []
    for upload in given:
        try:
            prepared.append(prepare(upload))
        except Invalid as exc:
            messages.extend(exc.errors[FIELD])
    if messages:
        raise Invalid(_("有照片无法使用，请检查后重新选择。"), errors={FIELD: messages})
    return prepared


def upload_dir() -> Path:
    """Where listing photos live: <instance>/uploads/listings/."""
    path = Path(current_app.instance_path) / "uploads" / "listings"
    path.mkdir(parents=True, exist_ok=True)
    return path


def path_for(stem: str, thumb: bool = False) -> Path:
    """The file of a photo (ValueError for anything that is not one of our stems)."""
    if not STEM.fullmatch(stem):
        raise ValueError("not a photo stem")
    return upload_dir() / (f"{stem}.thumb.jpg" if thumb else f"{stem}.jpg")


def _write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


def save(prepared: Prepared) -> str:
    """Write a prepared photo and its thumbnail; returns the new random stem."""
    stem = secrets.token_hex(16)
    _write(path_for(stem), prepared.full)
    _write(path_for(stem, thumb=True), prepared.thumb)
    return stem


def delete_files(stems) -> None:
    """Remove the files of photos (missing files are fine)."""
    for stem in stems:
        for thumb in (False, True):
            try:
                path_for(stem, thumb).unlink(missing_ok=True)
            except (ValueError, OSError):
                current_app.logger.warning("could not delete a listing photo file")


# --- photos of a listing --------------------------------------------------------------------------------


def add_photos(user: User, listing: Listing, prepared: list[Prepared]) -> list[str]:
    """Store prepared photos after the listing's own; returns the file stems written.

    The caller deletes those files again if its transaction does not commit.
    """
    listing = service.get_for_edit(user, listing.id)
    room = MAX_PHOTOS - len(listing.photos)
    if len(prepared) > room:
        message = _("每件商品最多 %(max)s 张照片，还能再加 %(n)s 张", max=MAX_PHOTOS, n=max(room, 0))
        raise Invalid(message, errors={"photos": [message]})
    stems: list[str] = []
    position = max((p.position for p in listing.photos), default=-1) + 1
    try:
        for item in prepared:
            stem = save(item)
            stems.append(stem)
            listing.photos.append(ListingPhoto(position=position, stem=stem, width=item.width, height=item.height))
            position += 1
        db.session.flush()
    except Exception:
        delete_files(stems)
        raise
    return stems


def _photo(listing: Listing, photo_id: int) -> ListingPhoto:
    photo = next((p for p in listing.photos if p.id == photo_id), None)
    if photo is None:
        raise NotFound(_("找不到这张照片。"))
    return photo


def remove_photo(user: User, listing: Listing, photo_id: int) -> str:
    """Take a photo off the listing; returns its stem, whose files go once the change commits."""
    listing = service.get_for_edit(user, listing.id)
    photo = _photo(listing, photo_id)
    listing.photos.remove(photo)
    db.session.flush()
    _renumber(listing, list(listing.photos))
    return photo.stem


def move_photo(user: User, listing: Listing, photo_id: int, offset: int) -> None:
    """Move a photo `offset` places (−1 earlier, +1 later); the first photo is the cover."""
    listing = service.get_for_edit(user, listing.id)
    ordered = list(listing.photos)
    photo = _photo(listing, photo_id)
    index = ordered.index(photo)
    target = min(max(index + offset, 0), len(ordered) - 1)
    ordered.insert(target, ordered.pop(index))
    _renumber(listing, ordered)


def _renumber(listing: Listing, ordered: list[ListingPhoto]) -> None:
    # Positions are UNIQUE per listing: park them on negatives first, then number them 0, 1, 2…
    for i, photo in enumerate(ordered):
        photo.position = -1 - i
    db.session.flush()
    for i, photo in enumerate(ordered):
        photo.position = i
    db.session.flush()
    db.session.expire(listing, ["photos"])
