"""task_control: `orbit task checkpoints/pause/resume/rollback/reset` as a job, for the Launchpad and GraphQL."""
