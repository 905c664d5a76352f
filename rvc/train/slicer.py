"""The silence slicer of RVC's training preprocessing: cut a recording at its pauses, keep a little silence.

Loudness is the RMS of a short window every ``hop_ms``; frames under ``threshold_db`` (dBFS) are silent. A silent
run is cut out when it lasts at least ``min_interval_ms`` and the audio kept since the previous cut is at least
``min_length_ms`` long; up to ``max_sil_kept_ms`` of silence stays on each side, and the cut falls on the quietest
frame. The defaults and every rule (also the rounding to frames) are those of the original RVC preprocessing
(its ``slicer2.Slicer`` with threshold -42 dB, 1500 ms, 400 ms, 15 ms, 500 ms), so a dataset is cut at the same
places as in the original WebUI.
"""

from __future__ import annotations

import numpy as np

THRESHOLD_DB = -42.0
MIN_LENGTH_MS = 1500
MIN_INTERVAL_MS = 400
HOP_MS = 15
MAX_SIL_KEPT_MS = 500


class Slicer:
    """Cuts mono audio at silences; all lengths are converted once to frames of ``hop_ms``."""

    def __init__(
        self,
        sample_rate_hz: int,
        threshold_db: float = THRESHOLD_DB,
        min_length_ms: int = MIN_LENGTH_MS,
        min_interval_ms: int = MIN_INTERVAL_MS,
        hop_ms: int = HOP_MS,
        max_sil_kept_ms: int = MAX_SIL_KEPT_MS,
    ) -> None:
        if not min_length_ms >= min_interval_ms >= hop_ms:
            raise ValueError("the slicer needs min_length_ms >= min_interval_ms >= hop_ms")
        if max_sil_kept_ms < hop_ms:
            raise ValueError("the slicer needs max_sil_kept_ms >= hop_ms")
        min_interval_samples = sample_rate_hz * min_interval_ms / 1000
        self.threshold = 10 ** (threshold_db / 20)
        self.hop = round(sample_rate_hz * hop_ms / 1000)
        # The RMS window spans four hops, or the minimal pause when that is shorter.
        self.window = min(round(min_interval_samples), 4 * self.hop)
        self.min_length = round(sample_rate_hz * min_length_ms / 1000 / self.hop)
        self.min_interval = round(min_interval_samples / self.hop)
        self.max_kept = round(sample_rate_hz * max_sil_kept_ms / 1000 / self.hop)

    def slice(self, audio: np.ndarray) -> list[np.ndarray]:
        """The non-silent parts of mono ``audio``, in order (views into it; empty parts are dropped)."""
        audio = np.asarray(audio)
        if audio.ndim != 1:
            raise ValueError(f"the slicer expects mono audio of shape (samples,), got {audio.shape}")
        if audio.size == 0:
            return []
        rms = self.frame_rms(audio)
        kept = self.kept_frames(rms)
        parts = (audio[begin * self.hop : end * self.hop] for begin, end in kept)
        return [part for part in parts if part.size]

    def frame_rms(self, audio: np.ndarray) -> np.ndarray:
        """RMS of a ``window``-long window centred on every hop, zero-padded at both ends (librosa's framing).

        Each window is summed on its own (a running sum would lose the quiet frames after loud ones to rounding,
        and the cut points are the quietest frames).
        """
        half = self.window // 2
        squares = np.pad(np.square(audio, dtype=np.float64), (half, half))
        frames = np.lib.stride_tricks.sliding_window_view(squares, self.window)[:: self.hop]
        return np.sqrt(frames.mean(axis=1))

    def kept_frames(self, rms: np.ndarray) -> list[tuple[int, int]]:
        """The frame ranges [begin, end) that survive, from the RMS track."""
        cuts = self._cuts(rms)
        n_frames = len(rms)
        if not cuts:
            return [(0, n_frames)]
        bounds = [0, *(edge for cut in cuts for edge in cut), n_frames]
        # Between consecutive cuts lies kept audio: (0, cut0.start), (cut0.end, cut1.start), ..., (cutN.end, end).
        return [(begin, end) for begin, end in zip(bounds[::2], bounds[1::2], strict=True) if end > begin]

    def _cuts(self, rms: np.ndarray) -> list[tuple[int, int]]:
        """The frame ranges to remove, one per silent run long enough to cut."""
        n_frames = len(rms)
        cuts: list[tuple[int, int]] = []
        clip_start = 0
        for start, end in _silent_runs(rms < self.threshold):
            if end == n_frames:
                if end - start >= self.min_interval:
                    quiet = _quietest(rms, start, min(n_frames, start + self.max_kept) + 1)
                    cuts.append((quiet, n_frames + 1))
                break
            leading = start == 0 and end > self.max_kept
            long_enough = end - start >= self.min_interval and end - clip_start >= self.min_length
            if leading or long_enough:
                cut = self._cut(rms, start, end)
                cuts.append(cut)
                clip_start = cut[1]
        return cuts

    def _cut(self, rms: np.ndarray, start: int, end: int) -> tuple[int, int]:
        """Where to cut the silent run [start, end): keep at most ``max_kept`` frames of it on each side.

        A short run is cut at a single point, its quietest frame; a longer one loses its middle. A leading run
        (start 0) loses everything up to the kept silence before the sound.
        """
        length = end - start
        if length <= self.max_kept:
            quiet = _quietest(rms, start, end + 1)
            return (0, quiet) if start == 0 else (quiet, quiet)
        left = _quietest(rms, start, start + self.max_kept + 1)
        right = _quietest(rms, end - self.max_kept, end + 1)
        if start == 0:
            return 0, right
        if length <= 2 * self.max_kept:
            # The kept margins overlap: also consider the quietest frame of the overlap.
            middle = _quietest(rms, end - self.max_kept, start + self.max_kept + 1)
            return min(left, middle), max(right, middle)
        return left, right


def _silent_runs(silent: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True in ``silent``."""
    edges = np.diff(np.concatenate(([0], silent.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def _quietest(rms: np.ndarray, begin: int, end: int) -> int:
    """Index of the first minimum of ``rms[begin:end]``."""
    return begin + int(np.argmin(rms[begin:end]))
