"""`python -m shared.relay`: run the watch relay until SIGTERM or SIGINT, then flush and exit.

Exit status 0 when everything held was sent, 2 when the flush deadline passed
with messages unsent (logged; the reconciler heals them), 1 on bad settings.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from shared.azure.queue import get_queue_store
from shared.config import get_settings
from shared.errors import ConfigError
from shared.kube import get_kube_client
from shared.relay.app import Relay, RelayConfig
from shared.relay.putter import QueuePutter

log = logging.getLogger("aci_connector.relay")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Flags are only --help: every setting comes from the environment, as in the Deployment's ConfigMap."""
    parser = argparse.ArgumentParser(
        prog="python -m shared.relay",
        description=(
            "Watch the pods bound to the virtual nodes and put a pod-events message on the Storage queue for each "
            "change that needs the connector. Runs until SIGTERM or SIGINT, then flushes what it holds and exits."
        ),
        epilog=(
            "Settings come from the environment (docs/settings.md): a cluster (KUBE_IN_CLUSTER, KUBE_API_URL + "
            "KUBE_TOKEN, or KUBECONFIG), the queue (AzureWebJobsStorage or AzureWebJobsStorage__queueServiceUri), "
            "the virtual nodes (VIRTUAL_NODE_*) and the RELAY_* settings. Exit status: 0 all sent, 2 flush deadline "
            "passed with messages unsent, 1 bad settings."
        ),
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    parse_args(argv)
    try:
        settings = get_settings()
        logging.basicConfig(
            level=settings["LOG_LEVEL"].upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        if not settings.cluster_configured:
            raise ConfigError("the relay needs a cluster: set KUBE_API_URL, KUBECONFIG or KUBE_IN_CLUSTER")
        config = RelayConfig.from_settings(settings)
        aci = None
        if config.kubelet is not None:
            from shared.azure.aci import get_aci_client

            aci = get_aci_client(settings)
        relay = Relay(config, get_kube_client(settings), QueuePutter(get_queue_store(settings)), aci=aci)
    except ConfigError as error:
        logging.basicConfig(stream=sys.stderr)
        log.error("relay cannot start: %s", error)
        return 1
    stop_signals = _stop_signals()
    relay.start()
    log.info("received %s", signal.Signals(os.read(stop_signals, 1)[0]).name)
    return 0 if relay.stop() else 2


def _stop_signals() -> int:
    """A pipe that receives a byte per SIGTERM/SIGINT, written by the interpreter's C-level handler.

    Not a Python handler that logs and sets an Event: signals come in bursts (Ctrl-C twice, a dying parent's
    PR_SET_PDEATHSIG once per thread it had), a handler runs again inside itself when the next one lands, and
    waits forever on the lock its outer run holds, so the relay would never stop.
    """
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    return read_end


if __name__ == "__main__":
    sys.exit(main())
