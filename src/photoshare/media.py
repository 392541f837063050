"""Uploaded images: checked, stripped of every byte of metadata, re-encoded and stored.

A photo's EXIF block can carry the GPS position it was taken at, the camera's serial number and
the owner's name; the policy can only protect what the platform keeps, so the platform keeps pixels
only. Every stored image is a fresh JPEG encoded from decoded pixels, named by a random key.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import struct
import tempfile
import warnings
from datetime import datetime
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.orm import Session

from photoshare.models import Media
from photoshare.settings import Settings

# Formats Pillow may decode for an upload; the others (EPS, PSD, TIFF, ...) widen the attack surface
# of the decoder for no photo anyone posts.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
JPEG_QUALITY = 85
_KEY_PATTERN = re.compile(r"[0-9a-f]{32}")


class ImageRejected(Exception):
    """An upload the platform refuses; ``status`` is the HTTP status the routes answer with."""

    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ImageTooLarge(ImageRejected):
    """Too many bytes, or too many pixels once decoded (a decompression bomb)."""

    status = 413


class NotAnImage(ImageRejected):
    """Not an image, an unsupported format, or a truncated or corrupt file."""


def is_media_key(text: str) -> bool:
    return _KEY_PATTERN.fullmatch(text) is not None


def media_path(media_dir: Path, key: str) -> Path:
    """The file of a media key; anything else (``../``, a slash) never becomes a path."""
    if not is_media_key(key):
        raise ValueError("not a media key")
    return media_dir / f"{key}.jpg"


def decode_upload(data: bytes, *, max_bytes: int, max_pixels: int) -> Image.Image:
    """The upload's pixels, upright (EXIF orientation applied), or ImageRejected."""
    if len(data) > max_bytes:
        raise ImageTooLarge(f"the file is larger than {max_bytes // (1024 * 1024)} MB")
    if not data:
        raise NotAnImage("the file is empty")
    # Pillow reads its bomb limit from a module global and only warns between 1x and 2x of it;
    # the warning is made an error so that every image over the limit is refused.
    Image.MAX_IMAGE_PIXELS = max_pixels
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as image:
                image.load()
                upright = ImageOps.exif_transpose(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageTooLarge("the image has too many pixels") from exc
        except UnidentifiedImageError as exc:
            raise NotAnImage("not an image in a supported format (JPEG, PNG, WebP)") from exc
        # Pillow reports corrupt data with any of these; TypeError and struct.error come from a
        # malformed EXIF block met by exif_transpose.
        except (OSError, SyntaxError, ValueError, EOFError, TypeError, struct.error) as exc:
            raise NotAnImage("the image is truncated or corrupt") from exc
    return upright


def encode_clean_jpeg(image: Image.Image) -> bytes:
    """A JPEG of the image's pixels and nothing else: no EXIF, XMP, ICC profile or comment."""
    rgb = _flatten(image)
    # A new image starts with an empty ``info``; Pillow's JPEG writer copies a comment (and newer
    # versions more) from ``info``, so the pixels are moved into one rather than converted in place.
    clean = Image.new("RGB", rgb.size)
    clean.paste(rgb)
    buffer = io.BytesIO()
    clean.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return buffer.getvalue()


def _flatten(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def write_image(
    image: Image.Image,
    *,
    owner_id: int,
    media_dir: Path,
    created_at: datetime | None = None,
    durable: bool = True,
) -> Media:
    """Writes the image as a clean JPEG under a new random key; returns its row, not yet added.

    ``durable`` syncs the file to disk before it is renamed into place, so that a committed row
    never names a file lost in a crash; bulk writers that redo everything after a crash skip it.
    """
    jpeg = encode_clean_jpeg(image)
    key = secrets.token_hex(16)
    _write_atomically(media_path(media_dir, key), jpeg, durable=durable)
    media = Media(
        key=key, owner_id=owner_id, width=image.width, height=image.height, size=len(jpeg)
    )
    if created_at is not None:
        media.created_at = created_at
    return media


def store_image(image: Image.Image, *, owner_id: int, media_dir: Path, db: Session) -> Media:
    """Writes the image and adds its row (flushed, not committed).

    If the row cannot be added the file is removed again; if the caller's commit fails it calls
    ``commit_or_discard`` instead of committing directly.
    """
    media = write_image(image, owner_id=owner_id, media_dir=media_dir)
    try:
        db.add(media)
        db.flush()
    except BaseException:
        discard_file(media_dir, media.key)
        raise
    return media


def ingest_image(data: bytes, *, owner_id: int, settings: Settings, db: Session) -> Media:
    """Checks an upload and stores its clean copy; raises ImageRejected, leaving nothing behind."""
    image = decode_upload(
        data, max_bytes=settings.max_upload_bytes, max_pixels=settings.max_image_pixels
    )
    return store_image(image, owner_id=owner_id, media_dir=settings.media_dir, db=db)


def commit_or_discard(db: Session, media: Media, media_dir: Path) -> None:
    """Commits the upload with the rows that refer to it; on failure no row and no file remain."""
    try:
        db.commit()
    except BaseException:
        db.rollback()
        discard_file(media_dir, media.key)
        raise


def discard_file(media_dir: Path, key: str) -> None:
    media_path(media_dir, key).unlink(missing_ok=True)


def _write_atomically(path: Path, data: bytes, *, durable: bool) -> None:
    """Readers see the whole file or none of it: written beside, then renamed into place."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
