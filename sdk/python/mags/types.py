"""The API's answers as typed dictionaries (the server's JSON, field names as the API has them)
and the few objects the SDK makes itself. The server's schemas are the source: src/api/schemas.ts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, List, Literal, Optional, TypedDict, Union

JobStatus = Literal["queued", "running", "succeeded", "failed", "stopped"]


class Job(TypedDict):
    id: str
    kind: Literal["run", "exec"]
    sandbox: Optional[str]
    sandboxId: Optional[str]
    command: List[str]
    workspace: Optional[str]
    status: JobStatus
    exitCode: Optional[int]
    signal: Optional[str]
    reason: Optional[str]
    #: How it ended (``exited``, ``timeout``, ``oom``, ``stopped``, ...); None while running.
    endReason: Optional[str]
    #: What to tell a person about how it ended; None: nothing.
    message: Optional[str]
    createdAt: str
    startedAt: Optional[str]
    finishedAt: Optional[str]
    logBytes: int
    logsRemovedAt: Optional[str]
    logsRemovedReason: Optional[str]
    origin: Optional[str]
    runtime: str
    #: The host that runs it (``mags server --host-id``); None for a job from before hosts.
    host: Optional[str]


class JobList(TypedDict):
    jobs: List[Job]
    nextCursor: Optional[str]


class SandboxInfo(TypedDict):
    name: str
    status: Literal["running", "sleeping", "stopped"]
    sleep: bool
    workspace: Optional[str]
    reason: Optional[str]
    createdAt: str
    lastActiveAt: str
    runtime: str


class WorkspaceInfo(TypedDict):
    name: str
    createdAt: str
    lastUsedAt: str
    sizeBytes: Optional[float]
    diskBytes: Optional[float]
    remoteVersion: Optional[int]
    forkedFrom: Optional[str]


class WorkspaceVersion(TypedDict):
    version: int
    committedAt: str
    sizeBytes: float


class SyncResult(TypedDict):
    version: int
    #: False when nothing changed since the last version (no new version was made).
    committed: bool
    uploadedBytes: float
    totalBytes: float


class DirectoryEntry(TypedDict, total=False):
    name: str
    type: Literal["file", "directory", "symlink", "other"]
    sizeBytes: int
    #: Permission bits in octal, e.g. ``"0644"``.
    mode: str
    modifiedAt: Optional[str]
    #: A symlink's target, as stored (symlinks only).
    target: str


class DirectoryListing(TypedDict):
    path: str
    entries: List[DirectoryEntry]
    #: More entries than the listing limit (10,000): only that many are here.
    truncated: bool


class Upload(TypedDict):
    id: str
    sizeBytes: int


class SyncProgress(TypedDict):
    phase: Literal["scanning", "uploading", "committing"]
    files: int
    totalFiles: int
    bytes: int
    totalBytes: int


class Health(TypedDict, total=False):
    status: Literal["ok"]
    version: str
    runtime: str


#: A file's bytes: whole (bytes, or text sent as UTF-8) or a binary file object, streamed.
Data = Union[bytes, bytearray, str, BinaryIO]


@dataclass
class RunFile:
    """A file a run gets in its /workspace (as ``/workspace/NAME``) before its command starts."""

    name: str
    data: Data
    #: Permission bits (default 0o644).
    mode: Optional[int] = None


@dataclass
class CompletedJob:
    """A job that has ended, with all of its output."""

    job: Job
    #: The exit code, or None when the command did not exit by itself (killed, stopped).
    exit_code: Optional[int]
    stdout: str
    stderr: str
