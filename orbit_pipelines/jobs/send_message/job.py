from dagster import in_process_executor, job

from orbit_pipelines.jobs.send_message.ops import deliver_message, load_message
from orbit_pipelines.runtime.lifecycle import record_task_failure


@job(executor_def=in_process_executor, hooks={record_task_failure}, tags={"orbit/kind": "message"},
     description="Deliver a message to a configured HTTP endpoint (JSON webhook or Slack-compatible).")
def send_message():
    task_id, payload = load_message()
    deliver_message(task_id, payload)
