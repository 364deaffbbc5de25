"""The Functions app: one blueprint per trigger, registered here. Nothing else belongs in this file.

The Python worker imports this module at start to index the functions, so it
must stay cheap: blueprints import shared/ code lazily, inside the handlers.
"""

import azure.functions as func

from functions.arm_events import bp as arm_events_bp
from functions.audit import bp as audit_bp
from functions.capacity import bp as capacity_bp
from functions.pod_events import bp as pod_events_bp
from functions.reconcile import bp as reconcile_bp
from shared.config import get_settings

get_settings()  # a missing or malformed app setting fails indexing with a message naming it

app = func.FunctionApp()
app.register_functions(pod_events_bp)
app.register_functions(audit_bp)
app.register_functions(capacity_bp)
app.register_functions(arm_events_bp)
app.register_functions(reconcile_bp)
