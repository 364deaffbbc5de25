"""Timer trigger: one reconcile cycle per tick (`%RECONCILE_SCHEDULE%`, every 10 s by default).

Timer triggers are singletons across the app's instances (a blob lease), so one
cycle runs at a time. use_monitor is off: the cycle is level-triggered, so a
missed tick needs no catch-up run, and monitoring would cost a Storage write per
tick. run_on_startup stays off: the first tick comes within one interval anyway.
"""

import logging

import azure.functions as func

bp = func.Blueprint()
log = logging.getLogger("aci_connector.reconcile")


@bp.function_name("reconcile")
@bp.timer_trigger(arg_name="timer", schedule="%RECONCILE_SCHEDULE%", run_on_startup=False, use_monitor=False)
def reconcile(timer: func.TimerRequest) -> None:
    """Run one cycle; per-object trouble is in the report, only a broken setup raises."""
    from shared.logs import with_fields
    from shared.reconcile import run_reconcile

    if timer.past_due:
        log.info("reconcile tick is past due; running now")
    report = run_reconcile()
    summary = report.summary()
    log.info(with_fields("reconcile cycle", summary))
    for error in report.errors[:20]:
        log.warning("reconcile: %s", error)
