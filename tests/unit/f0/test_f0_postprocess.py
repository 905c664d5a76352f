"""Transposition, coarse pitch, pitch-curve files and frame fitting, against the original's behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from rvc.f0 import apply_f0_curve, coarse_f0, fit_frames, load_f0_curve, shift_f0
from tests.conftest import load_reference_npz

COARSE = load_reference_npz("f0_coarse.npz")
TRANSPOSE_KEYS = sorted(int(name.removeprefix("f0_key")) for name in COARSE if name.startswith("f0_key"))


def test_reference_holds_all_recorded_keys() -> None:
    assert TRANSPOSE_KEYS == [-12, -5, 0, 7, 12]


@pytest.mark.parametrize("transpose", TRANSPOSE_KEYS)
def test_shift_and_coarse_match_reference_exactly(transpose: int) -> None:
    f0_in = COARSE["f0_in"].copy()
    shifted = shift_f0(f0_in, transpose)
    np.testing.assert_array_equal(shifted, COARSE[f"f0_key{transpose:+d}"])
    coarse = coarse_f0(shifted)
    assert coarse.dtype == np.int64
    np.testing.assert_array_equal(coarse, COARSE[f"coarse_key{transpose:+d}"])
    np.testing.assert_array_equal(f0_in, COARSE["f0_in"])  # inputs are not modified


def test_coarse_range_ends() -> None:
    assert coarse_f0(np.array([0.0, 50.0, 1100.0, 5000.0])).tolist() == [1, 1, 255, 255]


def _write(tmp_path, text: str):
    path = tmp_path / "curve.txt"
    path.write_text(text)
    return path


def test_curve_file_accepts_commas_and_whitespace(tmp_path) -> None:
    curve = load_f0_curve(_write(tmp_path, "0, 100\n0.5,150\n\n1.0\t200\n1.5 250.5\n"))
    assert curve.dtype == np.float32
    np.testing.assert_array_equal(curve, np.array([[0, 100], [0.5, 150], [1.0, 200], [1.5, 250.5]], np.float32))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0, 100\n0.5; 120\n", r"line 2: expected 'time_seconds, hz' \(two numbers\)$"),
        ("0, 100, 3\n", r"line 1: expected"),
        ("\n\n", "no 'time_seconds, hz' pairs found"),
        ("0.5, 100\n0.2, 120\n", "times must start at 0 s or later and increase"),
        ("-0.1, 100\n0.2, 120\n", "times must start at 0 s or later and increase"),
    ],
)
def test_bad_curve_files_are_clear_errors(tmp_path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_f0_curve(_write(tmp_path, text))


def _original_override(f0: np.ndarray, inp_f0: np.ndarray, x_pad: int) -> np.ndarray:
    """The original pipeline's statements, kept as the test oracle."""
    f0 = f0.copy()
    tf0 = 100
    delta_t = np.round((inp_f0[:, 0].max() - inp_f0[:, 0].min()) * tf0 + 1).astype("int16")
    replace_f0 = np.interp(list(range(delta_t)), inp_f0[:, 0] * 100, inp_f0[:, 1])
    shape = f0[x_pad * tf0 : x_pad * tf0 + len(replace_f0)].shape[0]
    f0[x_pad * tf0 : x_pad * tf0 + len(replace_f0)] = replace_f0[:shape]
    return f0


@pytest.mark.parametrize("n_frames", [300, 520])  # the curve ends inside / beyond the track
def test_curve_from_time_zero_overrides_like_the_original(tmp_path, n_frames: int) -> None:
    curve = load_f0_curve(_write(tmp_path, "0, 100\n0.013, 110\n1.234, 300\n3.3, 180\n"))
    f0 = np.random.default_rng(0).uniform(80, 400, n_frames)
    out = apply_f0_curve(f0, curve, start_frame=100)
    np.testing.assert_array_equal(out, _original_override(f0, curve, x_pad=1))
    assert not np.array_equal(out, f0)


def test_curve_starting_later_replaces_only_the_frames_it_covers(tmp_path) -> None:
    curve = load_f0_curve(_write(tmp_path, "0.5, 100\n1.0, 200\n"))
    f0 = np.full(200, 150.0)
    out = apply_f0_curve(f0, curve)
    np.testing.assert_array_equal(out[:50], 150.0)
    np.testing.assert_allclose(out[50:101], np.linspace(100, 200, 51))
    np.testing.assert_array_equal(out[101:], 150.0)


def test_fit_frames_pads_centred_like_pm_and_crops_the_end() -> None:
    f0 = np.arange(1.0, 6.0)
    np.testing.assert_array_equal(fit_frames(f0, 8), [0, 0, 1, 2, 3, 4, 5, 0])
    np.testing.assert_array_equal(fit_frames(f0, 9), [0, 0, 1, 2, 3, 4, 5, 0, 0])
    np.testing.assert_array_equal(fit_frames(f0, 4), [1, 2, 3, 4])
    np.testing.assert_array_equal(fit_frames(f0, 5), f0)


def test_a_bad_line_is_never_quoted(tmp_path) -> None:
    """A client may name any file as its curve: the error says where it fails, never what the file holds."""
    with pytest.raises(ValueError) as refused:
        load_f0_curve(_write(tmp_path, "SQLite format 3 secret-row\n"))
    assert "secret" not in str(refused.value) and "SQLite" not in str(refused.value)
