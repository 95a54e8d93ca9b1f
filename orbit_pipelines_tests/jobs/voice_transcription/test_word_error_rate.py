"""The offline engine's word error rate on speech made here (espeak-ng's en-us voice), measured with jiwer.

Measured on this machine: about 0.9 (PocketSphinx's en-US model was trained on human speech; espeak-ng's
synthetic voice is far from it, so most words come out wrong: "please call me back tomorrow morning" is
heard as "we all we are tomorrow morning"). The bound is what was measured plus a margin, not a quality
claim: it fails if decoding or the engine breaks (every word wrong, or nothing heard). docs/voice.md says
to use the api engine where the words matter.
"""

import jiwer
import pytest

from orbit_pipelines.jobs.voice_transcription.audio import decode_pcm
from orbit_pipelines.jobs.voice_transcription.offline import transcribe_pcm

pytestmark = pytest.mark.usefixtures("audio_tools")

MEASURED_BOUND = 0.97


def test_the_offline_engine_hears_espeak_sentences_within_the_measured_word_error_rate(speech):
    references, heard = [], []
    for sentence, wav in speech.items():
        answer = transcribe_pcm(decode_pcm(wav), "en")
        references.append(sentence)
        heard.append(answer["text"])
        assert answer["words"], f"nothing heard in {wav.name}"
    rate = jiwer.wer(references, heard)
    print(f"offline word error rate on {len(references)} espeak-ng sentences: {rate:.2f}; heard {heard}")
    assert rate <= MEASURED_BOUND
