"""The worker's handlers for messages other than a cluster upsert or delete: sync (ARM events), standalone mode."""
