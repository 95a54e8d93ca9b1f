"""Voice transcription on this machine: minutes of audio transcribed per minute of wall time by the offline
engine (PocketSphinx), one voice_transcription run over N recordings made by espeak-ng; and the api
engine's throughput against the transcription emulator at latency L and concurrency C, compared with the
ideal N x L / C (the upload_and_transcribe step's wall time).

    .venv/bin/python -m bench.voice --offline 4 --seconds 12 --api 200 --latency 0.25 --concurrency 8
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import bench_environment, recon_job, write_results

SENTENCES = [
    "please call me back tomorrow morning",
    "the meeting moved to three o'clock on friday",
    "send the invoice to the new office address",
    "i will be ten minutes late for the call",
    "the parcel arrives on monday afternoon",
]


def recording(folder: Path, i: int, seconds: float) -> Path:
    """About `seconds` of espeak-ng speech: sentences one after another, unique per recording."""
    words, text = 0, []
    while words < seconds * 2.5:  # espeak-ng at 150 words a minute
        sentence = f"{SENTENCES[(i + len(text)) % len(SENTENCES)]} number {i} {len(text)}"
        text.append(sentence)
        words += len(sentence.split())
    path = folder / f"note_{i}.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), ". ".join(text)], check=True)
    return path


def one_run(instance, ledger, paths: list[Path], config: dict) -> tuple[float, dict, str]:
    from dagster import execute_job

    from orbit_pipelines.jobs.voice_transcription.intake import submit_audio
    from orbit_pipelines.runtime.tags import run_tags

    ids = [submit_audio(ledger, p)[0].id for p in paths]
    ledger.claim_pending(limit=len(ids), kinds=["voice"], batch_size=len(ids))
    run_config = {
        "ops": {"load_recordings": {"config": {"task_ids": ids}}, **config.get("ops", {})},
        "resources": config.get("resources", {}),
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
    }
    started = time.perf_counter()
    result = execute_job(
        recon_job("voice_transcription"), instance=instance, run_config=run_config, tags=run_tags(ledger.get_many(ids))
    )
    wall = time.perf_counter() - started
    steps = {s.step_key: round(s.end_time - s.start_time, 2) for s in instance.get_run_step_stats(result.run_id)}
    statuses = [t.status.value for t in ledger.get_many(ids)]
    return wall, steps, ",".join(sorted(set(statuses)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--offline", type=int, default=4, help="recordings for the offline engine")
    parser.add_argument("--seconds", type=float, default=12.0, help="length of each offline recording")
    parser.add_argument("--api", type=int, default=200, help="recordings for the api engine")
    parser.add_argument("--latency", type=float, default=0.25)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    from dagster import DagsterInstance

    from orbit_pipelines.db import get_engine
    from orbit_pipelines.jobs.voice_transcription.audio import inspect_audio
    from orbit_pipelines.ledger import Ledger
    from orbit_pipelines.local.transcription_emulator import TranscriptionEmulator

    with bench_environment() as env, tempfile.TemporaryDirectory() as tmp, TranscriptionEmulator() as emulator:
        instance = DagsterInstance.get()
        ledger = Ledger(get_engine(env.pg_url))
        offline_folder, api_folder = Path(tmp, "offline"), Path(tmp, "api")
        offline_folder.mkdir()
        api_folder.mkdir()
        offline = [recording(offline_folder, i, args.seconds) for i in range(args.offline)]
        audio_seconds = sum(inspect_audio(p).duration_seconds for p in offline)
        wall, steps, statuses = one_run(instance, ledger, offline, {})
        offline_figures = {
            "recordings": len(offline),
            "audio_seconds": round(audio_seconds, 1),
            "run_wall_s": round(wall, 2),
            "audio_minutes_per_minute": round(audio_seconds / wall, 2),
            "transcribe_step_s": steps.get("upload_and_transcribe"),
            "audio_minutes_per_minute_in_step": round(audio_seconds / steps["upload_and_transcribe"], 2),
            "steps_s": steps,
            "statuses": statuses,
        }
        print(
            f"offline: {audio_seconds:.0f} s of audio in {len(offline)} recordings, run {wall:.1f} s: "
            f"{offline_figures['audio_minutes_per_minute']} minutes of audio a minute "
            f"({offline_figures['audio_minutes_per_minute_in_step']} in the transcribe step); {statuses}"
        )
        emulator.latency = args.latency
        api = [recording(api_folder, 1000 + i, 1.0) for i in range(args.api)]
        config = {
            "ops": {
                "upload_and_transcribe": {"config": {"engine": "api"}},
                "store_transcripts": {"config": {"engine": "api"}},
            },
            "resources": {
                "transcriber": {"config": {"api_base_url": emulator.base_url, "concurrency": args.concurrency}}
            },
        }
        wall, steps, statuses = one_run(instance, ledger, api, config)
        ideal = args.api * args.latency / args.concurrency
        api_figures = {
            "n": args.api,
            "latency_s": args.latency,
            "concurrency": args.concurrency,
            "ideal_s": round(ideal, 2),
            "transcribe_step_s": steps["upload_and_transcribe"],
            "ratio_to_ideal": round(steps["upload_and_transcribe"] / ideal, 2),
            "run_wall_s": round(wall, 2),
            "recordings_per_second": round(args.api / wall, 1),
            "paid_calls": len(emulator.requests),
            "steps_s": steps,
            "statuses": statuses,
        }
        print(
            f"api: {args.api} recordings at L={args.latency} s, C={args.concurrency}: transcribe step "
            f"{api_figures['transcribe_step_s']} s vs ideal {ideal:.2f} s = {api_figures['ratio_to_ideal']} x; "
            f"run {wall:.1f} s; {api_figures['paid_calls']} paid calls; {statuses}"
        )
    print(f"written to {write_results('voice', {'offline': offline_figures, 'api': api_figures})}")


if __name__ == "__main__":
    main()
