"""`orbit voice submit`: audio files (or folders) in, one task per audio content, transcripts out; `orbit voice
refused`: the files the voice inbox refused."""

from __future__ import annotations

import sys

import click

from orbit_pipelines.cli.common import echo_lines, echo_not_started, environment, ledger, reported


@click.group("voice")
def voice() -> None:
    """Transcribe voice notes and call recordings; list the files the voice inbox refused."""


def transcripts_table(led, task_ids: list[int]) -> list[str]:
    """One line per recording: its transcript, or why it failed."""
    from orbit_pipelines.jobs.voice_transcription.store import transcripts_for_tasks

    rows = {r["task_id"]: r for r in transcripts_for_tasks(led.engine, task_ids)}
    lines = ["| task | file | status | seconds | transcript |", "|---|---|---|---:|---|"]
    for task in led.get_many(task_ids):
        name = task.payload.get("source_name", task.payload.get("path", ""))
        row = rows.get(task.id)
        if row:
            lines.append(
                f"| {task.id} | {name} | {task.status.value} | {row['duration_seconds']:.1f} | {row['text']} |"
            )
        else:
            why = f"{task.error_class}: {task.error_message}" if task.error_class else ""
            lines.append(f"| {task.id} | {name} | {task.status.value} | | {why} |")
    return lines


@voice.command("submit")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--language", default="en", show_default=True, help="Spoken language (ISO 639-1).")
@click.option("--priority", type=click.IntRange(-100, 100), default=0, show_default=True)
@click.option("--wait", "wait_seconds", type=float, default=0, help="Wait up to N seconds for all to finish.")
@click.option(
    "--launch/--no-launch",
    default=True,
    show_default=True,
    help="Launch their runs at once through the webserver (ORBIT_DAGSTER_URL) when one serves this instance; "
    "otherwise the dispatch sensor starts them.",
)
def voice_submit(paths, language, priority, wait_seconds, launch) -> None:
    """Submit audio files (folders are walked): one task per audio content, then start their runs."""
    from orbit_pipelines.jobs.voice_transcription.audio import AudioToolsMissing, BadAudio
    from orbit_pipelines.jobs.voice_transcription.intake import expand_paths, submit_audio
    from orbit_pipelines.launch import DirectLauncher
    from orbit_pipelines.ledger import IdempotencyConflict
    from orbit_pipelines.runtime.intake import PayloadError
    from orbit_pipelines.waiting import FinishedCounter, WaitError, all_completed, totals_line, wait_for_tasks

    files = expand_paths(list(paths))
    if not files:
        raise click.ClickException(f"nothing to submit: {', '.join(paths)} holds no files (hidden files are skipped)")
    with environment() as env:
        led = ledger(env)
        launcher = DirectLauncher.connect(led) if launch else None  # before the tasks exist: see DirectLauncher
        tasks, created, refused = [], 0, []
        with click.progressbar(files, label="submitting", show_pos=True, file=sys.stderr) as bar:
            for path in bar:
                try:
                    with reported(AudioToolsMissing, IdempotencyConflict):
                        task, new = submit_audio(led, path, language=language, priority=priority)
                except (BadAudio, PayloadError, ValueError) as exc:
                    refused.append(str(exc))
                    continue
                tasks.append(task)
                created += new
        ids = list(dict.fromkeys(t.id for t in tasks))
        click.echo(f"{created} submitted, {len(tasks) - created} already known, {len(refused)} refused")
        for reason in refused:
            click.echo(f"  refused: {reason}")
        runs = launcher.launch(tasks) if launcher is not None and tasks else []
        for run in runs:
            click.echo(f"launched run {run.run_id} for {len(run.task_ids)} recording(s) ({run.dispatch_key})")
        if not runs and any(t.status.value == "PENDING" for t in tasks):
            echo_not_started(led, "voice", "they stay PENDING")
        if wait_seconds and ids:
            with click.progressbar(length=len(ids), label="finished", show_pos=True, file=sys.stderr) as bar:
                with reported(WaitError):
                    finals = wait_for_tasks(led, ids, wait_seconds, on_change=FinishedCounter(bar.update))
            for line in transcripts_table(led, ids):
                click.echo(line)
            click.echo(totals_line(finals))
            if not all_completed(finals):
                sys.exit(1)
        if refused:
            sys.exit(1)


@voice.command("refused")
def voice_refused() -> None:
    """Files in the voice inbox that were refused: each, why and since when, until it is replaced or removed."""
    from orbit_pipelines.jobs.voice_transcription.intake import refused_files, voice_inbox_dir
    from orbit_pipelines.reports import refused_file_lines

    inbox = voice_inbox_dir()
    if not inbox.is_dir():
        raise click.ClickException(
            f"the voice inbox folder {inbox} does not exist here; run this where the inbox is, with its "
            "ORBIT_VOICE_INBOX_DIR"
        )
    with environment() as env:
        found = refused_files(ledger(env), inbox)
    echo_lines(refused_file_lines(found, inbox))
