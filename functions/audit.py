"""HTTP POST /api/audit: kube-apiserver's audit webhook backend; pod changes become `pod-events` messages.

Authentication is a bearer token (AUDIT_BEARER_TOKEN), not the function key:
the apiserver's webhook client builds each request URL from the kubeconfig's
server address and drops its query string, so `?code=<key>` never arrives,
and a kubeconfig cannot add an `x-functions-key` header. The kubeconfig user's
`token` is sent as `Authorization: Bearer`, which is what shared/intake/audit.py checks
(constant-time). docs/audit.md has the policy and kubeconfig.

Messages leave through the queue output binding, in one batch written by the
host after the function returns: the answer does not wait on Storage, and this
HTTP worker never imports the Storage SDK.
"""

import json
import logging
import typing

import azure.functions as func

from shared.config import POD_EVENTS_QUEUE

bp = func.Blueprint()
log = logging.getLogger("aci_connector.audit")


@bp.function_name("audit")
@bp.route(route="audit", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.queue_output(arg_name="messages", queue_name=POD_EVENTS_QUEUE, connection="AzureWebJobsStorage")
def audit(req: func.HttpRequest, messages: func.Out[typing.List[str]]) -> func.HttpResponse:  # noqa: UP006 - the worker rejects list[str] here
    """Answer fast with counts; a bad event is skipped and counted, never a reason to fail the batch."""
    from shared.config import get_settings
    from shared.intake.audit import handle_audit_request

    settings = get_settings()
    response = handle_audit_request(
        req.method,
        req.headers,
        req.get_body(),
        token=settings["AUDIT_BEARER_TOKEN"],
        nodes=settings.node_names.values(),
        max_bytes=settings["AUDIT_MAX_BODY_BYTES"],
    )
    if response.texts:
        messages.set(response.texts)
    return func.HttpResponse(
        json.dumps(response.body),
        status_code=response.status,
        mimetype="application/json",
        headers=response.headers,
    )
