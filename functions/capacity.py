"""HTTP GET /api/capacity[/{node}]: capacity, allocatable, requested, remaining and the ACI quota.

JSON by default, Prometheus text exposition with `?format=prometheus` (scrape it with the
function key in the `x-functions-key` header). Answers come from per-process caches
(shared/azure/quota.py), so polling this endpoint costs at most one ARM read per minute.
"""

import json
import logging

import azure.functions as func

bp = func.Blueprint()
log = logging.getLogger("aci_connector.capacity")

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _error(status: int, message: str) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps({"error": message}), status_code=status, mimetype="application/json", charset="utf-8"
    )


@bp.function_name("capacity")
@bp.route(route="capacity/{node?}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def capacity(req: func.HttpRequest) -> func.HttpResponse:
    """Answer from the caches; a node this connector does not run is a 404."""
    from shared.azure.quota import get_capacity_service
    from shared.capacity import to_prometheus

    node = req.route_params.get("node") or None
    output = (req.params.get("format") or "json").lower()
    if output not in ("json", "prometheus"):
        return _error(400, f"unknown format {output[:40]!r}: use json or prometheus")
    try:
        report = get_capacity_service().report(node)
    except KeyError:
        return _error(404, f"no virtual node named {node[:80]!r} is run by this connector")
    if output == "prometheus":
        return func.HttpResponse(
            to_prometheus(report), status_code=200, headers={"Content-Type": PROMETHEUS_CONTENT_TYPE}
        )
    return func.HttpResponse(json.dumps(report), status_code=200, mimetype="application/json", charset="utf-8")
