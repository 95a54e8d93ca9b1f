"""The live event stream: `orbit up` serves the ledger's task events to clients as Server-Sent Events.

The outbox is the one webhooks use, the ledger's `orbit.task_events` table (its id is each event's
SSE id), and the bodies are the webhook bodies (webhooks/events.py). Postgres LISTEN/NOTIFY wakes the
server when a row commits (migration 0009); each client then reads the rows after its own last id, so
a client reconnecting with Last-Event-ID, or one whose wake-up was coalesced, misses nothing.
Modules: sse (the wire format), events (rows -> events), reads (the ledger), listener (the one
LISTEN connection, fanned out), token (the bearer token), server (HTTP)."""
