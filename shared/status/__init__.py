"""ACI container group -> Kubernetes pod status and Events; the package's entry points are re-exported here."""

from shared.status.pod import pod_status_for_missing_group, pod_status_from_container_group, status_differs
from shared.status.times import kube_time, parse_time

__all__ = [
    "kube_time",
    "parse_time",
    "pod_status_for_missing_group",
    "pod_status_from_container_group",
    "status_differs",
]
