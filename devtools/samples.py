"""Sample media with real-looking sensitive metadata, generated on the spot (no binary blobs in git).

Used by the tests, the benchmarks and `make demo`.
"""
from __future__ import annotations

import io

from PIL import Image

SECRET_GPS = (48.85806, 2.29444)  # the Eiffel Tower: what a leak would reveal


def _dms(value: float) -> tuple[float, float, float]:
    minutes, seconds = divmod(abs(value) * 3600, 60)
    degrees, minutes = divmod(minutes, 60)
    return (float(degrees), float(minutes), round(seconds, 2))


def full_exif(orientation: int = 1) -> bytes:
    """EXIF with GPS, make/model/serial, capture time, a maker note and a comment, as APP1 payload."""
    exif = Image.Exif()
    exif[0x010F] = "ACME"
    exif[0x0110] = "Spy Cam 3000"
    exif[0x0131] = "firmware 1.2"
    exif[0x0112] = orientation
    exif[0x0132] = "2024:05:01 10:00:00"
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = "2024:05:01 10:00:00"
    ifd[0xA431] = "SN-123456"
    ifd[0x927C] = b"MAKERNOTE-SECRET"
    ifd[0x9286] = b"ASCII\x00\x00\x00hello"
    gps = exif.get_ifd(0x8825)
    lat, lon = SECRET_GPS
    gps[1], gps[2], gps[3], gps[4] = "N", _dms(lat), "E", _dms(lon)
    return exif.tobytes()


def photo(size: tuple[int, int]) -> Image.Image:
    """A photo-like RGB image (gradient plus noise) that compresses like a real one."""
    width, height = size
    base = Image.linear_gradient("L").resize(size)
    noise = Image.effect_noise(size, 40)
    return Image.merge("RGB", (base, noise, Image.blend(base, noise, 0.5)))


def xmp_packet() -> bytes:
    return (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
            b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
            b'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,51.48N" '
            b'exif:GPSLongitude="2,17.67E"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


def jpeg_photo(size: tuple[int, int] = (640, 480), orientation: int = 1, quality: int = 90) -> bytes:
    """A JPEG with EXIF (GPS, device, times, maker note), XMP, an ICC profile, a comment and an EXIF thumbnail."""
    from PIL import ImageCms

    image = photo(size)
    exif = Image.Exif()
    exif.load(full_exif(orientation))
    thumb = io.BytesIO()
    image.resize((160, 120)).save(thumb, "JPEG", quality=70)
    exif_bytes = _with_thumbnail(exif, thumb.getvalue())
    out = io.BytesIO()
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image.save(out, "JPEG", quality=quality, exif=exif_bytes, icc_profile=icc, xmp=xmp_packet(),
               comment=b"shot at home")
    return out.getvalue()


def _with_thumbnail(exif: Image.Exif, thumbnail: bytes) -> bytes:
    """EXIF bytes with an IFD1 thumbnail appended (Pillow writes no IFD1 itself)."""
    import struct

    body = exif.tobytes()[6:]  # strip "Exif\0\0"
    order = "<" if body[:2] == b"II" else ">"
    ifd0 = struct.unpack_from(order + "I", body, 4)[0]
    count = struct.unpack_from(order + "H", body, ifd0)[0]
    next_at = ifd0 + 2 + 12 * count
    ifd1_at = len(body)
    thumb_at = ifd1_at + 2 + 2 * 12 + 4
    ifd1 = struct.pack(order + "H", 2) + struct.pack(order + "HHII", 0x0201, 4, 1, thumb_at) \
        + struct.pack(order + "HHII", 0x0202, 4, 1, len(thumbnail)) + b"\x00" * 4
    body = body[:next_at] + struct.pack(order + "I", ifd1_at) + body[next_at + 4:] + ifd1 + thumbnail
    return b"Exif\x00\x00" + body
