"""Intake: what turns outside signals (Kubernetes audit webhooks, ARM events) into pod-events queue messages."""
