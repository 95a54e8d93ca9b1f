"""task_decomposition: a software task -> subtasks by category -> implementation prompts."""
