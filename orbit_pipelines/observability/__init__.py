"""Metrics, webhooks and the Veryfi call log: what operators, SREs and other systems see."""
