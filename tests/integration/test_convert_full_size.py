"""One conversion with full-size files in the ecosystem's formats: v2 40k f0 model, fairseq HuBERT, rmvpe."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from rvc import service
from rvc.audio import load_audio, write_audio
from tests.conftest import DATA_DIR
from tests.factories import write_full_size_home


@pytest.mark.slow
def test_full_size_models_convert_a_ten_second_excerpt(tmp_path, monkeypatch):
    home = write_full_size_home(tmp_path / "home")
    monkeypatch.setenv("RVC_HOME", str(home))
    monkeypatch.delenv("RVC_EMBEDDER", raising=False)
    excerpt = tmp_path / "excerpt.wav"
    source, = [DATA_DIR / "source_speech_stereo48k.wav"]
    write_audio(excerpt, load_audio(source, 48000)[: 10 * 48000], 48000)

    result = service.convert(excerpt, "full_v2_40k", tmp_path / "out.wav",
                             params={"f0_method": "rmvpe", "noise_scale": 0.0}, index=None)

    audio, rate = soundfile.read(result["output_path"], dtype="float32")
    assert rate == 40000
    assert abs(len(audio) - 10 * 40000) <= 400
    assert np.isfinite(audio).all() and np.abs(audio).max() > 0.01
    assert result["timings_s"]["synth"] > 0 and result["timings_s"]["hubert"] > 0
