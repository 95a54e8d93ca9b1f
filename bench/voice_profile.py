"""Where the api engine's transcribe step spends its time: the api run of bench.voice (N recordings made by
espeak-ng, the transcription emulator at latency L, concurrency C), each phase of a recording's work timed
in the op's own process (the in-process executor), and the CPU the op and its ffmpeg/ffprobe children used.

    .venv/bin/python -m bench.voice_profile --api 24 --latency 0.25 --concurrency 8

Prints, per phase: how many, their summed wall time, and when the first began and the last ended after
the op's work began. Run it under `flock /tmp/orbit-live.lock`, as every bench.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

from bench.common import bench_environment
from bench.voice import one_run, recording

_spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
_lock = threading.Lock()
_cpu: dict[str, float] = {}


def _timed(owner, name: str, phase: str) -> None:
    original = getattr(owner, name)

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            with _lock:
                _spans[phase].append((started, time.perf_counter()))

    setattr(owner, name, timed)


def _cpu_counted(owner, name: str) -> None:
    original = getattr(owner, name)

    def counted(*args, **kwargs):
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            return original(*args, **kwargs)
        finally:
            own_after, children_after = (
                resource.getrusage(resource.RUSAGE_SELF),
                resource.getrusage(resource.RUSAGE_CHILDREN),
            )
            _cpu["op process"] = own_after.ru_utime + own_after.ru_stime - own.ru_utime - own.ru_stime
            _cpu["ffmpeg/ffprobe"] = (
                children_after.ru_utime + children_after.ru_stime - children.ru_utime - children.ru_stime
            )

    setattr(owner, name, counted)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--api", type=int, default=24, help="recordings")
    parser.add_argument("--latency", type=float, default=0.25)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    from dagster import DagsterInstance

    from orbit_pipelines.db import get_engine
    from orbit_pipelines.jobs.voice_transcription import api_client, audio, transcription
    from orbit_pipelines.ledger import Ledger
    from orbit_pipelines.local.transcription_emulator import TranscriptionEmulator

    # Patched before the job's ops module is imported, so the op calls the timed ones.
    _timed(audio, "probe", "ffprobe")
    _timed(transcription, "decode_pcm", "ffmpeg decode")
    _timed(transcription, "check_speech_level", "silence check")
    _timed(transcription._Uploader, "__init__", "S3 client + bucket check")
    _timed(transcription._Uploader, "upload", "S3 upload")
    _timed(api_client.TranscriptionClient, "transcribe", "API call")
    _timed(transcription, "save_answer", "save answer")
    _timed(transcription, "load_answers", "load answers")
    _timed(transcription, "upload_and_transcribe_all", "the op's work")
    _cpu_counted(transcription, "upload_and_transcribe_all")
    with bench_environment() as env, tempfile.TemporaryDirectory() as tmp, TranscriptionEmulator() as emulator:
        ledger = Ledger(get_engine(env.pg_url))
        emulator.latency = args.latency
        paths = [recording(Path(tmp), 1000 + i, 1.0) for i in range(args.api)]
        config = {
            "ops": {
                "upload_and_transcribe": {"config": {"engine": "api"}},
                "store_transcripts": {"config": {"engine": "api"}},
            },
            "resources": {
                "transcriber": {"config": {"api_base_url": emulator.base_url, "concurrency": args.concurrency}}
            },
        }
        wall, steps, statuses = one_run(instance=DagsterInstance.get(), ledger=ledger, paths=paths, config=config)
    ideal = args.api * args.latency / args.concurrency
    print(f"run {wall:.2f} s, steps {steps}, {statuses}; ideal {ideal:.2f} s")
    print("CPU seconds in the op:", {k: round(v, 2) for k, v in _cpu.items()})
    [(op_start, _)] = _spans["the op's work"]
    for phase, spans in _spans.items():
        found = [(start, end) for start, end in spans if start >= op_start]  # not the probes at submission
        if not found:
            print(f"{phase:30} n=   0")
            continue
        total = sum(end - start for start, end in found)
        first = min(start for start, _ in found) - op_start
        last = max(end for _, end in found) - op_start
        print(f"{phase:30} n={len(found):4} sum {total:7.2f} s  first began +{first:5.2f} s  last ended +{last:5.2f} s")


if __name__ == "__main__":
    main()
