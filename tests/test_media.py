"""ingest_image: what is kept of an upload (pixels, upright) and what is refused, leaving nothing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from photoshare.media import (
    ImageRejected,
    ImageTooLarge,
    NotAnImage,
    commit_or_discard,
    ingest_image,
    media_path,
)
from photoshare.models import Media, Post
from photoshare.settings import Settings
from tests.factories import World
from tests.image_helpers import (
    SECRETS,
    assert_clean_jpeg,
    gps_jpeg,
    image_bytes,
    png_declaring,
    png_with_text,
    truncated_jpeg,
)


def _stored_files(settings: Settings) -> list[Path]:
    return sorted(settings.media_dir.iterdir())


def _media_rows(db: Session) -> int:
    return db.scalar(select(func.count(Media.id))) or 0


def test_the_stored_copy_has_the_pixels_and_no_metadata(
    settings: Settings, db: Session, world: World
) -> None:
    alice = world.user("alice")
    upload = gps_jpeg()
    assert all(secret in upload for secret in SECRETS)  # the test image does carry them

    media = ingest_image(upload, owner_id=alice.id, settings=settings, db=db)
    db.commit()

    stored = media_path(settings.media_dir, media.key).read_bytes()
    assert_clean_jpeg(stored)
    assert (media.width, media.height, media.size) == (64, 32, len(stored))
    assert media.content_type == "image/jpeg"
    assert len(media.key) == 32
    with Image.open(io.BytesIO(stored)) as image:
        left, right = image.getpixel((5, 16)), image.getpixel((60, 16))
    assert isinstance(left, tuple) and isinstance(right, tuple)
    assert left[0] > 200 and left[2] < 60  # yellow stays on the left
    assert right[2] > 150  # blue on the right


def test_exif_orientation_is_applied_before_the_metadata_goes(
    settings: Settings, db: Session, world: World
) -> None:
    alice = world.user("alice")
    # Orientation 6: the camera was turned; viewers rotate 90 degrees clockwise to show it upright.
    media = ingest_image(
        gps_jpeg((64, 32), orientation=6), owner_id=alice.id, settings=settings, db=db
    )
    db.commit()

    stored = media_path(settings.media_dir, media.key).read_bytes()
    assert_clean_jpeg(stored)
    assert (media.width, media.height) == (32, 64)
    with Image.open(io.BytesIO(stored)) as image:
        assert image.size == (32, 64)
        top = image.getpixel((16, 5))
    assert isinstance(top, tuple) and top[0] > 200 and top[2] < 60  # the yellow half is on top


def test_png_with_transparency_and_text_becomes_a_plain_jpeg(
    settings: Settings, db: Session, world: World
) -> None:
    alice = world.user("alice")
    media = ingest_image(png_with_text("RGBA"), owner_id=alice.id, settings=settings, db=db)
    db.commit()

    stored = media_path(settings.media_dir, media.key).read_bytes()
    assert_clean_jpeg(stored)
    with Image.open(io.BytesIO(stored)) as image:
        pixel = image.getpixel((20, 20))
    # half-transparent red over white
    assert isinstance(pixel, tuple) and pixel[0] > 240 and 100 < pixel[1] < 160


def test_webp_is_accepted(settings: Settings, db: Session, world: World) -> None:
    alice = world.user("alice")
    media = ingest_image(image_bytes("WEBP"), owner_id=alice.id, settings=settings, db=db)
    assert (media.width, media.height) == (40, 30)


def _refused(data: bytes, settings: Settings, db: Session, world: World) -> ImageRejected:
    alice = world.user("alice")
    with pytest.raises(ImageRejected) as refusal:
        ingest_image(data, owner_id=alice.id, settings=settings, db=db)
    db.commit()
    assert _stored_files(settings) == []
    assert _media_rows(db) == 0
    return refusal.value


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"just some text, not an image", id="text"),
        pytest.param(b"<svg xmlns='http://www.w3.org/2000/svg'/>", id="svg"),
        pytest.param(truncated_jpeg(), id="truncated-jpeg"),
        pytest.param(image_bytes("GIF"), id="gif-not-accepted"),
        pytest.param(image_bytes("TIFF"), id="tiff-not-accepted"),
        pytest.param(image_bytes("BMP"), id="bmp-not-accepted"),
        pytest.param(gps_jpeg()[:200], id="headers-only"),
    ],
)
def test_what_is_not_a_supported_image_is_refused_with_400(
    data: bytes, settings: Settings, db: Session, world: World
) -> None:
    refusal = _refused(data, settings, db, world)
    assert isinstance(refusal, NotAnImage)
    assert refusal.status == 400


def test_too_many_bytes_is_refused_with_413(settings: Settings, db: Session, world: World) -> None:
    settings.max_upload_bytes = 1000
    data = image_bytes("PNG", (200, 200)) + b"\0" * 1000
    refusal = _refused(data, settings, db, world)
    assert isinstance(refusal, ImageTooLarge)
    assert refusal.status == 413


@pytest.mark.parametrize(
    ("size", "why"),
    [
        ((120, 100), "between the limit and twice it: Pillow only warns"),
        ((400, 400), "past twice the limit: Pillow raises"),
    ],
)
def test_images_with_too_many_pixels_are_refused(
    size: tuple[int, int], why: str, settings: Settings, db: Session, world: World
) -> None:
    settings.max_image_pixels = 10_000
    refusal = _refused(image_bytes("PNG", size), settings, db, world)
    assert isinstance(refusal, ImageTooLarge), why


def test_a_decompression_bomb_is_refused_before_it_is_decoded(
    settings: Settings, db: Session, world: World
) -> None:
    bomb = png_declaring(100_000, 100_000)
    assert len(bomb) < 200
    refusal = _refused(bomb, settings, db, world)
    assert isinstance(refusal, ImageTooLarge)
    assert refusal.status == 413


def test_a_failed_commit_leaves_no_file_and_no_row(
    settings: Settings, db: Session, world: World
) -> None:
    alice = world.user("alice")
    media = ingest_image(image_bytes("PNG"), owner_id=alice.id, settings=settings, db=db)
    assert media_path(settings.media_dir, media.key).exists()
    db.add(Post(owner_id=alice.id, media_id=media.id, venue_id=999_999))  # no such venue

    with pytest.raises(IntegrityError):
        commit_or_discard(db, media, settings.media_dir)

    assert _stored_files(settings) == []
    assert _media_rows(db) == 0


def test_keys_are_random_and_never_paths(settings: Settings, db: Session, world: World) -> None:
    alice = world.user("alice")
    keys = {
        ingest_image(image_bytes("PNG"), owner_id=alice.id, settings=settings, db=db).key
        for _ in range(5)
    }
    assert len(keys) == 5
    for bad in ("../photoshare.db", "a" * 31, "A" * 32, "g" * 32, ""):
        with pytest.raises(ValueError):
            media_path(settings.media_dir, bad)
