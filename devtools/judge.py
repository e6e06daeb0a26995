"""The leak judge of the tests and the demo: what exiftool still reads that places, identifies or dates a person.

It is independent of the strippers on purpose: it imports nothing from `images/` or `video/`, and it
classifies exiftool's own output (`-G1`: tag names with their family-1 group, `-ee3`: embedded and
timed metadata such as telemetry tracks too), so a parser bug in the project cannot hide a leak from it.

A tag is a leak when its group is one whose every tag is private (GPS, XMP, IPTC, maker notes, QuickTime
keys and user data, ...), or when its name says what it is (position, device, serial, person, software,
capture time, thumbnail, free text). Structural facts (sizes, codecs, colour, orientation, durations)
and dates that were zeroed are not leaks. ICC profile tags are kept by the project's policy and not judged.
"""
from __future__ import annotations

import json
import re
import subprocess
from typing import Any

# Family-1 groups exiftool gives only to private metadata (matched at the start of the group name, so
# "XMP-dc", "MakerNotes" and "GPS" in any numbered IFD count).
PRIVATE_GROUPS = re.compile(
    r"^(GPS|XMP|IPTC|Photoshop|MakerNotes|MakerUnknown|Keys|ItemList|UserData|IFD1|SubIFD\d*|InteropIFD|MPF\d*|"
    r"MPImage|FlashPix|Ducky|Comment|PNG-tEXt|PNG-zTXt|PNG-iTXt|MIE|PictureInfo|Microsoft|Apple|Google|"
    r"Canon|Nikon|Sony|Olympus|Panasonic|Pentax|Fujifilm|Samsung|Kodak|Casio|Ricoh|Sigma|Minolta|Leica|"
    r"DJI|GoPro|Insta360|Parrot|Garmin|Vorbis|Matroska-Tags?|Tags)",
    re.IGNORECASE,
)
# Groups that are exiftool's own bookkeeping or derived from other tags, or (ICC) kept by policy.
IGNORED_GROUPS = re.compile(r"^(ExifTool|System|File|Composite|ICC)", re.IGNORECASE)
# Tag names that give away a place, a device, a person, the software used, a moment or a hidden image.
REVEALING_NAME = re.compile(
    r"GPS|Location|Coordinates|Latitude|Longitude|Altitude|ISO6709|Serial|Owner|Artist|Author|Copyright|"
    r"^Make$|^Model$|CameraModel|LensMake|LensModel|LensSerial|LensInfo|Software|HostComputer|Firmware|"
    r"DateTimeOriginal|DateTimeDigitized|CreationDate|SubSecTime|OffsetTime|TimeZone|"
    r"UserComment|ImageDescription|^Comment$|^Title$|Description$|Keywords|Subject|Creator|Rating|"
    r"XP(Comment|Author|Title|Subject|Keywords)|Thumbnail(Image|TIFF)|PreviewImage|JpgFromRaw|OtherImage|"
    r"UniqueID|ContentIdentifier|DocumentName|PersonInImage|RegionInfo|FaceInfo|DetectedFace|"
    r"Telemetry|Accelerometer|Gyroscope|DeviceID|WriterName|Producer|Encoder$|Writer$|MuxingApp|WritingApp",
    re.IGNORECASE,
)
# Names matched above that are structure, not identity.
STRUCTURAL_NAMES = {
    "ExifByteOrder", "Orientation", "CompressorName", "HandlerType", "HandlerVendorID", "VendorID",
    "SampleDescription", "SampleGroupDescription", "TrackLanguage", "MediaDataSize", "MediaDataOffset",
    "ProfileDescription",  # SampleGroupDescription (sgpd): e.g. the AAC roll distance of an audio track
}
# The muxer name ffmpeg itself writes into a remuxed Matroska/WebM file: names no person or device.
OWN_MUXER = "Lavf"
# exiftool's container dates: structural when zeroed (1904/1970 epochs, all zeros).
CONTAINER_DATE = re.compile(r"(Create|Modify)Date$")
ZEROED_DATE = re.compile(r"^(0000|1904:01:01 00:00:00|1970:01:01 00:00:00|0$)")
# Handler names that name nothing but the kind of track: generic names only.
GENERIC_HANDLER = re.compile(r"^(|Video|Sound|Data|Alias|Meta|Picture|Core Media (Video|Audio|Data)|"
                             r"(Video|Sound|Data|Meta|Picture)Handler|ISO Media file.*|Apple Video Media Handler|"
                             r"Apple Sound Media Handler|Apple Alias Data Handler|pict|Handler)$",
                             re.IGNORECASE)


def exiftool_tags(path: str) -> dict[str, Any]:
    """Every tag exiftool reads in `path`, keyed `Group1:Name` (duplicates included, embedded data too)."""
    done = subprocess.run(
        ["exiftool", "-j", "-G1", "-a", "-u", "-ee3", "-api", "LargeFileSupport=1", path],
        capture_output=True, text=True, timeout=300, check=False,
    )
    try:
        return dict(json.loads(done.stdout)[0])
    except (ValueError, IndexError):
        return {}


def is_leak(group: str, name: str, value: Any) -> bool:
    """Does the tag `group:name` with `value` give away anything about the person or the device?"""
    if IGNORED_GROUPS.match(group):
        return group == "File" and name == "Comment"  # a JPEG COM or GIF comment surfaces here
    if name in STRUCTURAL_NAMES:
        return False
    if name in ("MuxingApp", "WritingApp") and value == OWN_MUXER:
        return False
    if name == "HandlerDescription":
        return not GENERIC_HANDLER.match(str(value).strip())
    if CONTAINER_DATE.search(name) and not PRIVATE_GROUPS.match(group):
        return not ZEROED_DATE.match(str(value).strip())
    return bool(PRIVATE_GROUPS.match(group) or REVEALING_NAME.search(name))


def leaks_in_tags(tags: dict[str, Any]) -> dict[str, Any]:
    """The leaking subset of `exiftool_tags` output."""
    found = {}
    for key, value in tags.items():
        group, _, name = key.rpartition(":")
        if group and is_leak(group, name, value):
            found[key] = value
    return found


def leaks_in_file(path: str) -> dict[str, Any]:
    """`Group1:Name -> value` for every tag in `path` that still gives something away."""
    return leaks_in_tags(exiftool_tags(path))
