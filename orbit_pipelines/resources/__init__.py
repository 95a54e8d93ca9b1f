from orbit_pipelines.resources.ledger import LedgerResource

__all__ = ["LedgerResource"]
