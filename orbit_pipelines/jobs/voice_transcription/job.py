from orbit_pipelines.jobs.voice_transcription.models import KIND
from orbit_pipelines.jobs.voice_transcription.ops import (
    load_recordings,
    store_transcripts,
    summarize_recordings,
    upload_and_transcribe,
)
from orbit_pipelines.runtime.jobs import task_job


@task_job(
    KIND,
    "Upload recordings to S3, transcribe them (offline or an OpenAI-compatible API), store the "
    "transcripts, summarise the batch.",
)
def voice_transcription():
    summarize_recordings(store_transcripts(upload_and_transcribe(load_recordings())))
