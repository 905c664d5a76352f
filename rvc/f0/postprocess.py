"""What RVC does to an f0 track between the extractor and the synthesizer, as the original ``get_f0``:
transpose, optional override by a user's pitch curve, and quantisation to the 1..255 coarse pitch."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from rvc.f0.base import F0_MAX_HZ, F0_MIN_HZ, FRAMES_PER_SECOND

COARSE_BINS = 256  # coarse pitch 1..255; 1 also stands for unvoiced
_F0_MEL_MIN = 1127 * np.log(1 + F0_MIN_HZ / 700)
_F0_MEL_MAX = 1127 * np.log(1 + F0_MAX_HZ / 700)


def shift_f0(f0: np.ndarray, transpose: float) -> np.ndarray:
    """Raise the pitch by ``transpose`` semitones (negative lowers it); unvoiced frames stay 0."""
    return f0 * 2 ** (transpose / 12)


def coarse_f0(f0: np.ndarray) -> np.ndarray:
    """Quantise f0 (Hz) on the mel scale into the synthesizer's pitch embedding index, int64 in 1..255.

    50 Hz maps to 1 and 1100 Hz to 255; unvoiced and out-of-range frames are clipped to the ends.
    """
    f0_mel = 1127 * np.log(1 + f0 / 700)
    voiced = f0_mel > 0
    f0_mel[voiced] = (f0_mel[voiced] - _F0_MEL_MIN) * (COARSE_BINS - 2) / (_F0_MEL_MAX - _F0_MEL_MIN) + 1
    f0_mel[f0_mel <= 1] = 1
    f0_mel[f0_mel > COARSE_BINS - 1] = COARSE_BINS - 1
    return np.rint(f0_mel).astype(np.int64)


_SEPARATOR = re.compile(r"[,\s]+")


def load_f0_curve(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a pitch curve file: one ``time_seconds, hz`` pair per line (comma or whitespace separated).

    Returns a [points, 2] float32 array (float32 like the original, so interpolated values match it).
    Blank lines are skipped; times must be >= 0 and increase.
    """
    path = Path(path)
    points = []
    for line_number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = _SEPARATOR.split(line.strip())
        try:
            if len(fields) != 2:
                raise ValueError
            points.append([float(fields[0]), float(fields[1])])
        except ValueError:
            # the line itself is not quoted: the file may be any file a client named (a database, a file list)
            raise ValueError(f"{path}, line {line_number}: expected 'time_seconds, hz' (two numbers)") from None
    if not points:
        raise ValueError(f"{path}: no 'time_seconds, hz' pairs found")
    curve = np.array(points, dtype=np.float32)
    if curve[0, 0] < 0 or np.any(np.diff(curve[:, 0]) <= 0):
        raise ValueError(f"{path}: times must start at 0 s or later and increase from line to line")
    return curve


def apply_f0_curve(f0: np.ndarray, curve: np.ndarray, start_frame: int = 0) -> np.ndarray:
    """Replace ``f0`` over the frames the curve covers by the curve, linearly interpolated at 100 fps.

    ``start_frame`` is the frame of time 0 (the pipeline's padding in front of the audio). The curve
    gives absolute pitch: apply it after ``shift_f0``, as the original does. The number of frames
    replaced is the original's, round(span * 100 + 1); it counts from the curve's first time (the
    original always starts at time 0, which is the same for curves that begin at 0 s).
    """
    times_in_frames = curve[:, 0] * FRAMES_PER_SECOND
    n_frames = int(np.round((curve[:, 0].max() - curve[:, 0].min()) * FRAMES_PER_SECOND + 1))
    first = int(np.round(times_in_frames[0]))
    replacement = np.interp(np.arange(first, first + n_frames), times_in_frames, curve[:, 1])
    out = f0.copy()
    start = start_frame + first
    target = out[start : start + n_frames]
    target[:] = replacement[: len(target)]
    return out
