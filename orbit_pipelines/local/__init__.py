"""Embedded stand-ins for a machine with nothing configured (Postgres today; S3 and Veryfi next)."""
