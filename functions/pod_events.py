"""Queue trigger on `pod-events`: each message makes one container group match its pod."""

import logging

import azure.functions as func

from shared.config import POD_EVENTS_QUEUE

bp = func.Blueprint()
log = logging.getLogger("aci_connector.pod_events")


@bp.function_name("pod_events")
@bp.queue_trigger(arg_name="message", queue_name=POD_EVENTS_QUEUE, connection="AzureWebJobsStorage")
def pod_events(message: func.QueueMessage) -> None:
    """Process one message; an exception here means "retry" to the host (and, at last, the poison queue)."""
    from shared.logs import with_fields
    from shared.worker import process_message

    outcome = process_message(message.get_body(), dequeue_count=message.dequeue_count or 1)
    log.info(
        with_fields("pod-events message %s: %s %s", {"group": outcome.group, "action": outcome.action}),
        message.id,
        outcome.action,
        outcome.detail,
    )
