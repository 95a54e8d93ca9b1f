"""agent_execution: run a decomposed task's implementation prompts through a coding-agent command."""
