from dagster import in_process_executor, job

from orbit_pipelines.jobs.common import record_task_failure
from orbit_pipelines.jobs.send_message.ops import deliver_message, load_message


@job(executor_def=in_process_executor, hooks={record_task_failure}, tags={"orbit/kind": "message"},
     description="Deliver a message to a configured HTTP endpoint (JSON webhook or Slack-compatible).")
def send_message():
    task_id, payload = load_message()
    deliver_message(task_id, payload)
