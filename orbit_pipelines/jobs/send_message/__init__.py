"""send_message: deliver a message to a configured HTTP endpoint (JSON webhook or Slack-compatible)."""
