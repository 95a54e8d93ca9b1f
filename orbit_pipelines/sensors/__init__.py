"""Sensors: dispatch, document inbox, run outcomes, webhook delivery."""

# The sensor daemon loops every 5 s and ticks a sensor only once `minimum_interval_seconds` have
# passed since its last tick *started*. At 5 s that is a coin toss each loop, so sensors ticked every
# 10 s about half the time; at 1 s they tick on every loop, every 5 s, which is what we want (the
# bodies are a few indexed queries).
EVERY_DAEMON_LOOP = 1
