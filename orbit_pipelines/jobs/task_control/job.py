"""task_control: one operator request on one task, launched from the Launchpad or through GraphQL."""

from dagster import in_process_executor, job

from orbit_pipelines.jobs.task_control.ops import control_task


@job(
    executor_def=in_process_executor,
    description="Control one task as `orbit task ...` does: list its checkpoints, pause it at the next step "
    "boundary, resume it, roll it back to a step or reset it. Config: ops.control_task.config.task_id and "
    "action (checkpoints, pause, resume, rollback with to_step, reset with reason). A refused request fails "
    "the run saying why.",
)
def task_control():
    control_task()
