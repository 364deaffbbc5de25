"""Event Grid trigger on the resource group's system topic: a container group changed, refresh its pod now.

The subscription may use the Event Grid schema or the CloudEvents 1.0 schema: the Functions
worker (azure-functions 1.26) hands the first over as func.EventGridEvent and the second as
func.CloudEvent, whatever the annotation says; shared.intake.arm_events reads both. A malformed
event is logged and dropped (Event Grid would only redeliver the same bytes); a Storage
failure raises, so Event Grid retries the delivery with backoff.
"""

import logging

import azure.functions as func

bp = func.Blueprint()
log = logging.getLogger("aci_connector.arm_events")


@bp.function_name("arm_events")
@bp.event_grid_trigger(arg_name="event")
def arm_events(event: func.EventGridEvent) -> None:
    """One event in, at most one `sync` message out on pod-events."""
    from shared.azure.queue import get_queue_store
    from shared.config import get_settings
    from shared.intake.arm_events import MalformedEvent, decide, event_as_dict
    from shared.logs import with_fields

    settings = get_settings()
    try:
        raw = event_as_dict(event)
        decision = decide(
            raw, subscription_id=settings["AZURE_SUBSCRIPTION_ID"], resource_group=settings["ACI_RESOURCE_GROUP"]
        )
    except MalformedEvent as error:
        log.warning("skipped malformed Event Grid event %s: %s", getattr(event, "id", "?"), error)
        return
    if decision.message is None:
        log.debug("ignored Event Grid event %s: %s", raw.get("id"), decision.reason)
        return
    get_queue_store(settings).send(decision.message.to_text())
    log.info(with_fields("Event Grid %s: queued sync", {"group": decision.group}), decision.reason)
