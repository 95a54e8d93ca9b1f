"""What an operator should do about a failure, by error class: shown in step metadata, run logs,
`orbit dlq list` and webhook events. Pure data; no Dagster."""

from __future__ import annotations

# `orbit dlq retry` works for every failed task: it re-executes a failed run from failure, and gives a task
# that failed inside a green batch (where Re-execute > From failure is disabled) a run of its own.
RETRY = "then `orbit dlq retry TASK_ID`"

HINTS: dict[str, str] = {
    # Input that no retry can fix.
    "InvalidPayload": "The payload is invalid (the message names the field): submit a corrected task; "
    "`orbit dlq discard TASK_ID --reason ...` clears this one.",
    "InvalidInput": "The task's input is invalid (the message names the field): submit a corrected task.",
    "MissingTaskId": "Launch with the first op's config.task_id set, or use the Launchpad's inline fields.",
    "TaskNotFound": "No such task in this ledger: check the id with `orbit task list` and the run's database.",
    "RequestRefused": "task_control refused the request as the task stands (the message says why and what to "
    "do instead): `orbit task show TASK_ID` shows where it is; launch task_control again with a request that fits.",
    "LaunchRefused": "The webserver did not launch the run task_control asked for (the message says why): check "
    "that ORBIT_DAGSTER_URL reaches the webserver from the code server, then launch task_control again.",
    "WrongKind": "The task belongs to another job: launch the job of its kind (`orbit task kinds`).",
    "EmptyBatch": "Give load_documents.config.task_ids or paths when launching; "
    "`orbit dlq discard TASK_ID --reason ...` clears the refused launch.",
    "BadDocument": "The file is missing, unreadable, of an unsupported type or size: fix or replace it, then "
    "`orbit doc submit` it again (or re-execute the launch's run from failure); `orbit dlq discard TASK_ID` "
    "clears this one.",
    "DocumentChanged": "The file changed after it was submitted: submit the new version (it becomes a new task).",
    "InvalidPlan": "The plan breaks a rule (the message says which): re-execute from decompose_task with "
    "corrected_subtasks_json (`orbit rerun RUN_ID --from-step decompose_task --config FILE`).",
    "InvalidCorrection": "corrected_subtasks_json is not a valid subtask list (the message names the field): "
    "fix it and re-execute from decompose_task again.",
    "NothingToRun": "The decomposed task has no prompts for the categories asked: check its plan with "
    "`orbit task show ID`, or launch with other categories.",
    "DependencyCycle": "The plan's subtasks depend on each other in a circle (the message names it): re-execute "
    "its decomposition from decompose_task with corrected_subtasks_json, then run the agent.",
    # External services.
    "S3Refused": f"S3 refused the upload (its message says why: access, bucket, policy): fix the credentials or "
    f"bucket, {RETRY}.",
    "LLMNotConfigured": "Set ORBIT_LLM_BASE_URL and ORBIT_LLM_MODEL (and ORBIT_LLM_API_KEY if the server needs one) "
    "and restart the code location, or re-execute with decompose_task strategy deterministic.",
    "InvalidModelAnswer": "The model kept answering with invalid plans: re-execute from decompose_task with "
    "feedback for the model, a stronger model, or strategy deterministic.",
    "BudgetExceeded": "The task's or today's model budget is spent (the message gives the amounts): raise "
    f"ORBIT_LLM_TASK_BUDGET_USD / ORBIT_LLM_DAILY_BUDGET_USD or wait for tomorrow (UTC), {RETRY}.",
    "AgentFailed": "The coding agent answered with a non-zero exit (its output's tail is in the run): read it, "
    f"fix the prompt or the working directory, {RETRY}; prompts that succeeded are not run again.",
    "AgentTimedOut": "The coding agent ran past its timeout through every retry: raise run_prompts' "
    f"timeout_seconds (ORBIT_AGENT_TIMEOUT_SECONDS) or split the work, {RETRY}.",
    "AgentCrashed": f"The coding agent (or its Pipes wrapper) died through every retry: read the run's log, {RETRY}.",
    "AgentNotConfigured": 'Set ORBIT_AGENT_COMMAND to the agent\'s argv as a JSON list (e.g. ["claude", "-p"]) '
    f"and restart the code location, {RETRY}.",
    "VeryfiRejected": f"Veryfi refused the document (its message says why: file, credentials, quota): fix "
    f"the cause, {RETRY}.",
    "TransientErrorsExhausted": f"Veryfi or S3 kept failing through every retry: check their status, {RETRY}; "
    "nothing already paid for is sent again.",
    "UnusableVeryfiAnswer": "Veryfi's stored answer is not a usable document: delete its row in "
    f"orbit.veryfi_responses (one more paid call), {RETRY}.",
    "UnknownEndpoint": f"Add the endpoint to ORBIT_MESSAGE_ENDPOINTS and restart the code location, {RETRY}.",
    "DeliveryFailed": f"The endpoint was unreachable through every retry: check that it is up, {RETRY}.",
    "DeliveryRejected": "The endpoint refused the message (its answer says why): fix the message or the "
    "endpoint, then retry, or discard the task.",
    # Worksheets.
    "InvalidWorksheetRequest": "The request cannot make a sheet (the message names the field): submit a corrected "
    "one; `orbit dlq discard TASK_ID --reason ...` clears this one.",
    "UntypesettableText": "The sheet has characters this TeX engine cannot typeset (the message names one): write "
    "the request in Latin script and submit it again.",
    "ForbiddenLatex": "The LaTeX would run programs or read files outside its folder (the message gives the line); "
    "nothing was compiled. A person's: remove that command and `orbit worksheet edit TASK_ID --latex FILE` again. "
    f"The model's (its answer stays in the task's conversation): {RETRY} asks it again.",
    "LatexDoesNotCompile": "The task waits for a person: `orbit worksheet latex TASK_ID > sheet.tex`, fix the line "
    "the error names, then `orbit worksheet edit TASK_ID --latex sheet.tex`; or `orbit worksheet ai-fix TASK_ID "
    "--instruction TEXT` has the model fix it; or `orbit cancel TASK_ID`.",
    # Voice.
    "BadAudio": "The file is not usable audio (the message names it and why: empty, truncated, silent, too long "
    "or too large): replace it with a good recording and submit it again; `orbit dlq discard TASK_ID --reason ...` "
    "clears this one.",
    "AudioChanged": "The stored recording no longer matches its content hash: submit the file again.",
    "NoSpeechRecognized": "The engine heard no words in the recording: check it is speech in the task's language, "
    "or discard the task.",
    "UnsupportedLanguage": "The engine has no model for the task's language (the message names it): submit it again "
    "with a supported `--language` or use the api engine (ORBIT_VOICE_ENGINE=api).",
    "UnusableTranscript": "The transcription API answered something that is not a transcript (kept in the job's "
    f"table): check the API, {RETRY}.",
    "TranscriberNotConfigured": "The api engine has no endpoint: set ORBIT_VOICE_API_BASE_URL (and "
    f"ORBIT_VOICE_API_KEY), {RETRY}.",
    "TexEngineMissing": "Install the TeX engine where runs execute (`apt-get install texlive-latex-base lmodern`; "
    f"deploy/Dockerfile does), {RETRY}.",
    "ClientError": f"S3 refused the request: check ORBIT_S3_BUCKET/ORBIT_S3_ENDPOINT_URL and the credentials, {RETRY}.",
    "EndpointConnectionError": f"S3 could not be reached: check ORBIT_S3_ENDPOINT_URL and the network, {RETRY}.",
    # Infrastructure.
    "ProgrammingError": "A database statement failed (a missing table or column?): run `orbit db migrate`, "
    f"check the database, {RETRY}.",
    "OperationalError": f"The database was unreachable through every retry: check Postgres (DAGSTER_PG_URL), {RETRY}.",
    "RunLost": "The run no longer exists in Dagster (purged, or another instance): `orbit dlq retry TASK_ID` "
    "starts a new one.",
    "Timeout": "The run went past its budget (dagster/max_runtime), or the step named past its step budget (op tag "
    "orbit/step_budget_seconds_per_task), and was stopped in that step: find what it waited for (a service that "
    "never answered?) in the run's log, raise ORBIT_MAX_RUNTIME_SECONDS_<KIND> (or the step's tag) if the work "
    f"needs longer, {RETRY}; what the run stored before it stopped is reused.",
    "RunFailure": "The run failed outside any step (launch error or crashed worker): read the run's event log, "
    "fix the cause, then `orbit rerun RUN_ID`.",
}

DEFAULT_HINT = (
    "Read the failed step's error in the run's event log, fix the cause, then re-execute from failure "
    "(`orbit rerun RUN_ID`, or Re-execute > From failure on the run page)."
)


def remediation_for(error_class: str | None) -> str:
    """The hint for an error class; a general one for classes nobody has described yet."""
    return HINTS.get(error_class or "", DEFAULT_HINT)
