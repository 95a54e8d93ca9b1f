"""ledger_report: the ledger's pending tasks, waiting tasks, dead letters and intake as tables on a run page."""
