"""Images with something to hide, and images that should be refused, for the media tests."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import ExifTags, Image, PngImagePlugin
from PIL.JpegImagePlugin import JpegImageFile

CAMERA_MAKE = "Hasselblad-Secret-Make"
CAMERA_MODEL = "X2D-Serial-0042"
# Berlin, Alexanderplatz: the position a harvester would love to read out of a photo.
GPS_LATITUDE = (52.0, 31.0, 18.25)
GPS_LONGITUDE = (13.0, 24.0, 47.5)
COMMENT = "home address: Torstrasse 1"
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" '
    b'photoshop:City="Berlin-Mitte-XMP"/></rdf:RDF></x:xmpmeta>'
)
ICC_PROFILE = b"fake-icc-profile-with-owner-name"

# The GPS rationals as Pillow writes them (big-endian numerator, denominator): 52/1 31/1 73/4 ...
GPS_BYTES = (
    struct.pack(">6I", 52, 1, 31, 1, 73, 4),
    struct.pack(">6I", 13, 1, 24, 1, 95, 2),
)
# What must never be found in a stored or served image.
SECRETS = (
    b"Exif\x00",
    b"ICC_PROFILE",
    b"ns.adobe.com",
    CAMERA_MAKE.encode(),
    CAMERA_MODEL.encode(),
    COMMENT.encode(),
    *GPS_BYTES,
)


def gps_jpeg(size: tuple[int, int] = (64, 32), orientation: int = 1) -> bytes:
    """A real camera-style JPEG: EXIF with make, model, orientation and a GPS position, XMP,
    an ICC profile and a comment."""
    image = Image.new("RGB", size, (30, 120, 200))
    image.paste((250, 250, 0), (0, 0, size[0] // 2, size[1]))  # left half yellow
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = CAMERA_MAKE
    exif[ExifTags.Base.Model] = CAMERA_MODEL
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = GPS_LATITUDE
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = GPS_LONGITUDE
    buffer = io.BytesIO()
    image.save(
        buffer, "JPEG", exif=exif, xmp=XMP, icc_profile=ICC_PROFILE, comment=COMMENT, quality=95
    )
    return buffer.getvalue()


def png_with_text(mode: str = "RGBA") -> bytes:
    image = Image.new(mode, (40, 40), (255, 0, 0, 128) if mode == "RGBA" else (255, 0, 0))
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", COMMENT)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def image_bytes(fmt: str, size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buffer, fmt)
    return buffer.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels: a decompression bomb."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    ihdr = b"IHDR" + header
    chunk = struct.pack(">I", len(header)) + ihdr + struct.pack(">I", zlib.crc32(ihdr))
    data = zlib.compress(b"\x00" * 64)
    idat = b"IDAT" + data
    idat_chunk = struct.pack(">I", len(data)) + idat + struct.pack(">I", zlib.crc32(idat))
    end = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + chunk + idat_chunk + end


def truncated_jpeg() -> bytes:
    data = image_bytes("JPEG", (200, 200))
    return data[: len(data) // 2]


def assert_clean_jpeg(data: bytes) -> None:
    """Nothing but pixels: no EXIF, GPS, XMP, ICC profile or comment, by Pillow and by bytes."""
    with Image.open(io.BytesIO(data)) as image:
        assert isinstance(image, JpegImageFile)
        assert image.mode == "RGB"
        assert len(image.getexif()) == 0
        assert not {"exif", "xmp", "icc_profile", "comment"} & set(image.info)
        assert image.applist == [("APP0", image.applist[0][1])]  # only the JFIF header
    for secret in SECRETS:
        assert secret not in data, secret
