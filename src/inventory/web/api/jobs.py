"""Background jobs: their status, progress, result and errors."""

from __future__ import annotations

from flask_smorest import Blueprint

from inventory import jobs
from inventory.db.models import Job, Role
from inventory.web.api.schemas import JobSchema
from inventory.web.auth import requires
from inventory.web.context import current_user, db

blp = Blueprint("jobs", __name__, description="Long work running in the background")


@blp.route("/<id:job_id>", methods=["GET"])
@blp.response(200, JobSchema)
@requires(Role.viewer)
def get_job(job_id: int) -> Job:
    """A job you started (admins: any job). Poll it until status is done or failed."""
    return jobs.get_job(session=db(), job_id=job_id, user=current_user())
