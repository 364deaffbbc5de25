"""The kubelet API of the virtual nodes, served by the relay (docs/kubelet-api.md).

The apiserver proxies `kubectl logs/exec/top` and `/api/v1/nodes/<n>/proxy/...` to the
address and port a Node advertises; the relay is the connector's one long-running
in-cluster process, so it answers there, translating to ACI. Modules: tls (certificates),
auth (TokenReview/SubjectAccessReview with caches), budget (ARM read bucket), pods
(URL -> group/container), logs (pure log filtering and follow cursor, shared with the
CLI), containerlogs, exec (WebSocket remote command <-> ACI exec), stats (Azure Monitor
metrics -> /stats/summary), advertise (the Nodes' address), server (the listeners).
"""
