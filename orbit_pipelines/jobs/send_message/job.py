from orbit_pipelines.jobs.send_message.models import KIND
from orbit_pipelines.jobs.send_message.ops import deliver_message, load_message
from orbit_pipelines.runtime.jobs import task_job


@task_job(KIND, "Deliver a message to a configured HTTP endpoint (JSON webhook or Slack-compatible).")
def send_message():
    task_id, payload = load_message()
    deliver_message(task_id, payload)
