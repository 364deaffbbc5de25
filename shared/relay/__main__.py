"""`python -m shared.relay`: run the watch relay until SIGTERM or SIGINT, then flush and exit.

Exit status 0 when everything held was sent, 2 when the flush deadline passed
with messages unsent (logged; the reconciler heals them), 1 on bad settings.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

from shared.config import get_settings
from shared.errors import ConfigError
from shared.kube import get_kube_client
from shared.queue import get_queue_store
from shared.relay.app import Relay, RelayConfig
from shared.relay.sender import queue_writer

log = logging.getLogger("aci_connector.relay")


def main() -> int:
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
            from shared.aci import get_aci_client

            aci = get_aci_client(settings)
        relay = Relay(config, get_kube_client(settings), queue_writer(get_queue_store(settings)), aci=aci)
    except ConfigError as error:
        logging.basicConfig(stream=sys.stderr)
        log.error("relay cannot start: %s", error)
        return 1
    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    relay.start()
    stopping.wait()
    return 0 if relay.stop() else 2


if __name__ == "__main__":
    sys.exit(main())
