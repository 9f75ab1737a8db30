"""The client: ``Mags(url, token)``, with ``jobs``, ``sandboxes``, ``workspaces``, ``uploads``."""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from .errors import InvalidInputError
from .jobs import Jobs, OutputCallback, TextCallback
from .paths import defined
from .sandboxes import Command, Sandboxes, command_body
from .transport import Transport
from .types import CompletedJob, Data, Health, Job, RunFile, SyncProgress, Upload
from .workspaces import Workspaces


class Uploads:
    """``mags.uploads``: files staged for one run (``Mags.run(files=...)`` does this for you)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def create(self, data: Data) -> Upload:
        return json.loads(self._transport.send("POST", "/v1/uploads", data))


class Mags:
    """A client of a mags server (``mags server``).

    ``url`` and ``token`` default to the environment: ``MAGS_URL`` and ``MAGS_API_TOKEN`` (as the
    CLI reads them; ``MAGS_TOKEN`` is accepted too). Errors are MagsError subclasses chosen by
    the API's HTTP status (mags.errors)::

        from mags import Mags

        mags = Mags()  # MAGS_URL, MAGS_API_TOKEN
        result = mags.run_and_wait("npm test", workspace="app", on_stdout=print)
        print(result.exit_code)
    """

    def __init__(
        self,
        url: Optional[str] = None,
        token: Optional[str] = None,
        *,
        timeout_seconds: float = 300.0,
        environment: Optional[Mapping[str, str]] = None,
    ) -> None:
        """``timeout_seconds``: how long one request may wait for the server's next byte."""
        env = os.environ if environment is None else environment
        url = url or env.get("MAGS_URL")
        if not url:
            raise InvalidInputError(
                "No mags server URL was given.",
                code="no_server_url",
                hint="Pass Mags(url=...) or set MAGS_URL, e.g. http://127.0.0.1:7070",
            )
        token = token or env.get("MAGS_API_TOKEN") or env.get("MAGS_TOKEN")
        self._transport = Transport(url, token, timeout_seconds)
        self.url = self._transport.url
        self.jobs = Jobs(self._transport)
        self.sandboxes = Sandboxes(self._transport, self.jobs)
        self.workspaces = Workspaces(self._transport)
        self.uploads = Uploads(self._transport)

    def health(self) -> Health:
        return self._transport.json("GET", "/health")

    def whoami(self) -> Dict[str, str]:
        """The token's owner and id: ``{"owner": ..., "tokenId": ...}``."""
        return self._transport.json("GET", "/v1/whoami")

    def run(
        self,
        command: Command,
        *,
        workspace: Optional[str] = None,
        base: Optional[str] = None,
        ephemeral: Optional[bool] = None,
        persist: Optional[bool] = None,
        version: Optional[int] = None,
        env: Optional[Dict[str, str]] = None,
        timeout_seconds: Optional[float] = None,
        limits: Optional[Mapping[str, float]] = None,
        network: Optional[bool] = None,
        image: Optional[str] = None,
        runtime: Optional[str] = None,
        files: Optional[Sequence[RunFile]] = None,
    ) -> Job:
        """Starts a command in a new sandbox and returns its job at once.

        ``workspace``: every write is kept there; ``base``: a workspace read-only below a
        throw-away layer; ``persist``: restore from and sync to object storage; ``files``: written
        into /workspace before the command starts (each streamed to the server first).
        """
        staged: List[Dict[str, Any]] = []
        for file in files or ():
            upload = self.uploads.create(file.data)
            staged.append(defined(upload=upload["id"], name=file.name, mode=file.mode))
        body = defined(
            command=command_body(command),
            workspace=workspace,
            base=base,
            ephemeral=ephemeral,
            persist=persist,
            version=version,
            env=env,
            timeoutSeconds=timeout_seconds,
            limits=dict(limits) if limits is not None else None,
            network=network,
            image=image,
            runtime=runtime,
            files=staged or None,
        )
        return self._transport.json("POST", "/v1/jobs", body)

    def run_and_wait(
        self,
        command: Command,
        *,
        on_output: Optional[OutputCallback] = None,
        on_stdout: Optional[TextCallback] = None,
        on_stderr: Optional[TextCallback] = None,
        on_started: Optional[TextCallback] = None,
        on_sync_progress: Optional[Callable[[SyncProgress], None]] = None,
        **options: Any,
    ) -> CompletedJob:
        """Runs a command (options as ``run``) and waits for it, streaming its output to the
        callbacks as it comes; returns the job with its exit code and all of its output."""
        job = self.run(command, **options)
        return self.jobs.wait(
            job["id"],
            on_output=on_output,
            on_stdout=on_stdout,
            on_stderr=on_stderr,
            on_started=on_started,
            on_sync_progress=on_sync_progress,
        )
