"""Azure adapters: ACI over ARM, Storage queues, Event Grid publishing, ACI quota; each imports its SDK lazily."""
