"""The Python SDK of mags: sandboxes for AI agents, over the REST API of ``mags server``.

Standard library only. See ``Mags`` for the entry point and ``mags.errors`` for what it raises.
"""

from .client import Mags, Uploads
from .errors import (
    AuthenticationError,
    ConflictError,
    DependencyMissingError,
    InvalidInputError,
    MagsError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    error_from_response,
)
from .sandbox_files import FileStream
from .types import (
    CompletedJob,
    DirectoryEntry,
    DirectoryListing,
    Job,
    JobList,
    RunFile,
    SandboxInfo,
    SyncResult,
    WorkspaceInfo,
    WorkspaceVersion,
)

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "CompletedJob",
    "ConflictError",
    "DependencyMissingError",
    "DirectoryEntry",
    "DirectoryListing",
    "FileStream",
    "InvalidInputError",
    "Job",
    "JobList",
    "Mags",
    "MagsError",
    "NotFoundError",
    "PermissionDeniedError",
    "QuotaExceededError",
    "RateLimitError",
    "RunFile",
    "SandboxInfo",
    "SyncResult",
    "Uploads",
    "WorkspaceInfo",
    "WorkspaceVersion",
    "error_from_response",
]
