"""Jobs: a command run in a new sandbox (``run``) or in a long-lived one (``exec``)."""

from __future__ import annotations

from typing import Callable, Optional

from .log_stream import StreamCallbacks, follow_job_logs
from .paths import query_string, segment
from .transport import Transport
from .types import CompletedJob, Job, JobList, JobStatus, SyncProgress

OutputCallback = Callable[[str, bytes], None]
TextCallback = Callable[[str], None]


class Jobs:
    """``mags.jobs``: read, follow, wait for, stop and delete jobs."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def get(self, job_id: str) -> Job:
        return self._transport.json("GET", f"/v1/jobs/{segment(job_id)}")

    def list(
        self,
        *,
        status: Optional[JobStatus] = None,
        workspace: Optional[str] = None,
        sandbox: Optional[str] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> JobList:
        """The owner's jobs, newest first; pass ``cursor=page["nextCursor"]`` for the next page."""
        query = query_string(
            {
                "status": status,
                "workspace": workspace,
                "sandbox": sandbox,
                "limit": limit,
                "cursor": cursor,
            }
        )
        return self._transport.json("GET", f"/v1/jobs{query}")

    def stop(self, job_id: str) -> Job:
        """Stops the job and returns once it has ended."""
        return self._transport.json("POST", f"/v1/jobs/{segment(job_id)}/stop")

    def delete(self, job_id: str) -> None:
        """Deletes a finished job and its stored output (a running one is a ConflictError)."""
        self._transport.send("DELETE", f"/v1/jobs/{segment(job_id)}")

    def logs(
        self,
        job_id: str,
        *,
        offset: int = 0,
        follow: bool = True,
        on_output: Optional[OutputCallback] = None,
        on_stdout: Optional[TextCallback] = None,
        on_stderr: Optional[TextCallback] = None,
        on_started: Optional[TextCallback] = None,
        on_sync_progress: Optional[Callable[[SyncProgress], None]] = None,
        max_reconnects: int = 10,
    ) -> Job:
        """Streams the output (following until the job ends by default); returns the job then."""
        callbacks = StreamCallbacks(on_output, on_stdout, on_stderr, on_started, on_sync_progress)
        return follow_job_logs(
            self._transport,
            job_id,
            callbacks,
            offset=offset,
            follow=follow,
            max_reconnects=max_reconnects,
        )

    def wait(
        self,
        job_id: str,
        *,
        on_output: Optional[OutputCallback] = None,
        on_stdout: Optional[TextCallback] = None,
        on_stderr: Optional[TextCallback] = None,
        on_started: Optional[TextCallback] = None,
        on_sync_progress: Optional[Callable[[SyncProgress], None]] = None,
    ) -> CompletedJob:
        """Waits for the job, passing its output to the callbacks as it comes and collecting it."""
        stdout: list[str] = []
        stderr: list[str] = []

        def collect_stdout(text: str) -> None:
            stdout.append(text)
            if on_stdout:
                on_stdout(text)

        def collect_stderr(text: str) -> None:
            stderr.append(text)
            if on_stderr:
                on_stderr(text)

        job = follow_job_logs(
            self._transport,
            job_id,
            StreamCallbacks(
                on_output, collect_stdout, collect_stderr, on_started, on_sync_progress
            ),
        )
        return CompletedJob(
            job=job, exit_code=job["exitCode"], stdout="".join(stdout), stderr="".join(stderr)
        )
