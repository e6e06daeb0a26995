"""Video stripper: ffmpeg stream copy (via ffmpeg-python) with fail-closed verification.

Public API: `video.strip.strip_file`, `video.strip.inspect_file`, `video.strip.VideoOptions`,
`video.strip.VideoResult`.
"""
