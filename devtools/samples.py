"""Sample media with real-looking sensitive metadata, generated on the spot (no binary blobs in git).

Used by the tests, the benchmarks and `make demo`.
"""
from __future__ import annotations

import io
from pathlib import Path

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
    """A photo-like RGB image (gradient plus noise, so it compresses like a real one) with an arrow
    pointing up, so a person can see at a glance whether it is displayed upright."""
    from PIL import ImageDraw

    width, height = size
    base = Image.linear_gradient("L").resize(size)
    noise = Image.effect_noise(size, 40)
    image = Image.merge("RGB", (base, noise, Image.blend(base, noise, 0.5)))
    draw = ImageDraw.Draw(image)
    cx, unit = width // 2, min(width, height) // 8
    draw.polygon([(cx, unit), (cx - 2 * unit, 3 * unit), (cx + 2 * unit, 3 * unit)], fill="white")
    draw.rectangle((cx - unit // 2, 3 * unit, cx + unit // 2, height - unit), fill="white")
    return image


# The transpose that stores an upright picture so that a viewer applying EXIF Orientation shows it upright.
_STORED_AS = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
              4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90,
              7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_270}


def stored(upright: Image.Image, orientation: int) -> Image.Image:
    """The pixels a camera writes for `upright` when it tags them with `orientation`."""
    return upright.transpose(_STORED_AS[orientation]) if orientation in _STORED_AS else upright


def xmp_packet() -> bytes:
    return (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
            b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
            b'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,51.48N" '
            b'exif:GPSLongitude="2,17.67E"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


def jpeg_photo(size: tuple[int, int] = (640, 480), orientation: int = 1, quality: int = 90) -> bytes:
    """A JPEG with EXIF (GPS, device, times, maker note), XMP, an ICC profile, a comment and an EXIF thumbnail.

    `size` is the displayed size: the pixels are stored turned as `orientation` says, as cameras do.
    """
    from PIL import ImageCms

    image = stored(photo(size), orientation)
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


def png_photo(size: tuple[int, int] = (480, 360), orientation: int = 1) -> bytes:
    """A PNG with tEXt/iTXt (author, comment, XMP), tIME and an eXIf chunk (GPS, device, times)."""
    import struct
    import zlib

    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Doe")
    info.add_text("Comment", "our new flat, 3rd floor", zip=True)
    info.add_itxt("XML:com.adobe.xmp", xmp_packet().decode())
    out = io.BytesIO()
    photo(size).save(out, "PNG", pnginfo=info, exif=full_exif(orientation))
    data = out.getvalue()
    time_chunk = b"tIME" + bytes((0x07, 0xE8, 5, 1, 10, 0, 0))
    return data[:33] + struct.pack(">I", 7) + time_chunk + struct.pack(">I", zlib.crc32(time_chunk)) + data[33:]


def webp_photo(size: tuple[int, int] = (480, 360)) -> bytes:
    """A lossy WebP with EXIF (GPS, device, times) and XMP chunks."""
    out = io.BytesIO()
    photo(size).save(out, "WEBP", quality=85, exif=full_exif(), xmp=xmp_packet())
    return out.getvalue()


def gif_animation(frames: int = 6, size: tuple[int, int] = (120, 90)) -> bytes:
    """An animated, looping GIF with a comment extension."""
    from PIL import ImageDraw

    images = []
    for i in range(frames):
        frame = Image.new("RGB", size, (30 * i % 255, 120, 200))
        ImageDraw.Draw(frame).ellipse((10 + 12 * i, 20, 50 + 12 * i, 60), fill="white")
        images.append(frame)
    out = io.BytesIO()
    images[0].save(out, "GIF", save_all=True, append_images=images[1:], duration=120, loop=0,
                   comment=b"made by Jane at 12 Rue Example, Paris")
    return out.getvalue()


def heic_photo(size: tuple[int, int] = (480, 360), orientation: int = 1) -> bytes:
    """A HEIC (pillow-heif) with an EXIF item (GPS, device, times) and an XMP item."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    photo(size).save(out, "HEIF", quality=80, exif=full_exif(orientation), xmp=xmp_packet())
    return out.getvalue()


def video_clip(path: str, container: str = "mp4", rotate: int = 90, seconds: float = 1.0) -> None:
    """A short clip with location, creation time, device tags, a timecode data track and a rotation.

    container: "mp4" (ISO 6709 location in ©xyz) or "mov" (Apple's com.apple.quicktime.* keys).
    """
    import subprocess

    lat, lon = SECRET_GPS
    iso6709 = f"{lat:+08.4f}{lon:+09.4f}+035.000/"
    tags = {"creation_time": "2024-05-01T10:00:00Z", "make": "ACME", "model": "Spy Cam 3000"}
    if container == "mov":
        tags |= {"com.apple.quicktime.location.ISO6709": iso6709, "com.apple.quicktime.make": "ACME",
                 "com.apple.quicktime.model": "Spy Cam 3000", "com.apple.quicktime.creationdate": "2024-05-01T10:00:00Z"}
    else:
        tags |= {"location": iso6709}
    plain = f"{path}.plain.mp4"
    encode = ["ffmpeg", "-nostdin", "-v", "error", "-y",
              "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:duration={seconds}",
              "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
              # stored turned a quarter clockwise, as a phone held sideways does, so the display matrix shows it upright
              *(["-vf", "transpose=clock"] if rotate == 90 else []),
              "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", plain]
    # ffmpeg 5.1 writes a display matrix from the rotate tag on a stream copy, not on an encode.
    remux = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", plain, "-c", "copy",
             "-timecode", "10:00:00:00", "-metadata:s:v:0", f"rotate={rotate}"]
    for key, value in tags.items():
        remux += ["-metadata", f"{key}={value}"]
    if container == "mov":
        remux += ["-movflags", "use_metadata_tags"]
    try:
        for cmd in (encode, [*remux, "-f", container, path]):
            subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    finally:
        Path(plain).unlink(missing_ok=True)
