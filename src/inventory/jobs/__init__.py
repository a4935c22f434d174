"""Background jobs for long work (imports, later document processing and reindexing).

- `service`: submit a job (with its input kept in the database), read it back for its owner.
- `runner`: the per-process worker thread that claims jobs with FOR UPDATE SKIP LOCKED,
  beats a heartbeat, and commits each job's work in one transaction with its "done" status.

A handler is `handler(session, context) -> result`: it does the work in `session` without
committing (the runner commits) and reports progress through `context.progress(fraction)`,
which is written in its own short transaction. Raising `JobFailed` ends the job "failed"
with the given errors; nothing the handler wrote is kept.
"""

from inventory.jobs.runner import Handler, JobContext, JobFailed, JobRunner
from inventory.jobs.service import (
    JOB_STATUSES,
    get_job,
    get_job_input,
    store_input,
    submit,
)

__all__ = [
    "JOB_STATUSES",
    "Handler",
    "JobContext",
    "JobFailed",
    "JobRunner",
    "get_job",
    "get_job_input",
    "store_input",
    "submit",
]
