"""Verification decodes a sample (every keyframe, the last segment whole); the poster is the
middle frame, decoded from the keyframe before it."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from scenefarm_contract.renderer import QUALITIES
from scenefarm_renderer.media import decodes, decodes_sample, poster, probe, verify_scene

FRAMES, GOP = 45, 15  # three segments' worth of keyframes, as the renderer's segment grid makes


def multi_gop_clip(path: Path) -> Path:
    """854x480 at 15 fps, a keyframe every GOP frames, every frame different."""
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream(
            "libx264", rate=15, options={"g": str(GOP), "keyint_min": str(GOP), "sc_threshold": "0"}
        )
        video.width, video.height, video.pix_fmt = 854, 480, "yuv420p"
        video.codec_context.time_base = Fraction(1, 15)
        for i in range(FRAMES):
            image = np.zeros((480, 854, 3), dtype=np.uint8)
            image[:, :, 1] = (np.arange(854) // 3 + i * 9) % 256
            image[(i * 10) % 480 :, :, 2] = 200
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 15)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    return path


def packets(path: Path) -> list[tuple[int, int, bool]]:
    """(file position, size, keyframe) of each video packet in decode order."""
    with av.open(str(path)) as container:
        return [(p.pos, p.size, p.is_keyframe) for p in container.demux(video=0) if p.pts is not None]


def zeroed(source: Path, dest: Path, packet: tuple[int, int, bool]) -> Path:
    shutil.copy(source, dest)
    position, size, _ = packet
    with dest.open("r+b") as out:
        out.seek(position)
        out.write(b"\0" * size)
    return dest


def test_a_good_video_passes_the_sampled_check(tmp_path: Path) -> None:
    clip = multi_gop_clip(tmp_path / "clip.mp4")

    assert [k for _, _, k in packets(clip)].count(True) == FRAMES // GOP
    assert decodes_sample(clip) and decodes(clip)
    assert verify_scene(probe(clip), QUALITIES["low"]) == []


def test_a_broken_keyframe_or_a_broken_last_segment_fails_the_check(tmp_path: Path) -> None:
    clip = multi_gop_clip(tmp_path / "clip.mp4")
    listed = packets(clip)
    keys = [p for p in listed if p[2]]

    for name, packet in (("middle-key", keys[1]), ("last-key", keys[-1]), ("last", listed[-1])):
        broken = zeroed(clip, tmp_path / f"{name}.mp4", packet)
        assert not decodes_sample(broken), name
        assert "the video does not decode" in verify_scene(probe(broken), QUALITIES["low"]), name


def test_the_poster_is_the_middle_frame(tmp_path: Path) -> None:
    clip = multi_gop_clip(tmp_path / "clip.mp4")
    with av.open(str(clip)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]

    still = poster(clip, tmp_path / "poster.png", len(frames))

    shown = np.asarray(Image.open(still).convert("RGB"))
    assert np.array_equal(shown, frames[len(frames) // 2])
    assert not np.array_equal(shown, frames[len(frames) // 2 - 1])
