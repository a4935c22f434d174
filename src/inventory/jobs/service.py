"""Jobs as their owners see them: submit one, read it back."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from inventory.db.models import Job, JobInput, Role, User
from inventory.errors import NotFound

JOB_STATUSES = ("queued", "running", "done", "failed")


def store_input(*, session: Session, filename: str, data: bytes, user: User | None) -> JobInput:
    """Keep a job's input file in the database (flushed, not committed)."""
    stored = JobInput(filename=filename[:255], data=data, user_id=user.id if user else None)
    session.add(stored)
    session.flush()
    return stored


def submit(
    *,
    session: Session,
    kind: str,
    params: dict[str, Any],
    user: User | None,
    input_id: int | None = None,
    max_attempts: int = 3,
) -> Job:
    """Queue a job and commit, so that any worker may claim it at once."""
    job = Job(
        kind=kind,
        params=params,
        input_id=input_id,
        user_id=user.id if user else None,
        max_attempts=max_attempts,
    )
    session.add(job)
    session.commit()
    return job


def _may_read(user: User, owner_id: int | None) -> bool:
    # TODO(collections): the collection's admins, not every admin, once jobs have one.
    return owner_id == user.id or user.role.allows(Role.admin)


def get_job(*, session: Session, job_id: int, user: User) -> Job:
    """The job, for the user who started it or an admin; anyone else learns nothing (404)."""
    job = session.get(Job, job_id)
    if job is None or not _may_read(user, job.user_id):
        raise NotFound(f"job {job_id} does not exist")
    return job


def get_job_input(*, session: Session, input_id: int, user: User) -> JobInput:
    """A stored input, for the user who uploaded it or an admin."""
    stored = session.get(JobInput, input_id)
    if stored is None or not _may_read(user, stored.user_id):
        raise NotFound(f"upload {input_id} does not exist (or has expired)")
    return stored
