"""The timer's reconcile cycle (Kubernetes and ACI made to agree); its entry points are re-exported here."""

from shared.reconcile.cycle import Reconciler, get_reconciler, run_reconcile, set_reconciler
from shared.reconcile.pods import had_group, is_settled
from shared.reconcile.report import CycleReport, ReconcileConfig

__all__ = [
    "CycleReport",
    "ReconcileConfig",
    "Reconciler",
    "get_reconciler",
    "had_group",
    "is_settled",
    "run_reconcile",
    "set_reconciler",
]
