"""The worker's helpers beyond a cluster upsert or delete: sync (ARM events), standalone mode, and the notes
(status, Events, CloudEvents, intake marks) it writes on pods."""
