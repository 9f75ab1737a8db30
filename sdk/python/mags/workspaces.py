"""Workspaces: what a run or sandbox writes, kept; stored as versions in object storage."""

from __future__ import annotations

from typing import List

from .paths import segment
from .transport import Transport
from .types import SyncResult, WorkspaceInfo, WorkspaceVersion


class Workspaces:
    """``mags.workspaces``."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def list(self) -> List[WorkspaceInfo]:
        return self._transport.json("GET", "/v1/workspaces")["workspaces"]

    def versions(self, name: str) -> List[WorkspaceVersion]:
        """The versions in object storage, oldest first."""
        return self._transport.json("GET", f"/v1/workspaces/{segment(name)}/versions")["versions"]

    def sync(self, name: str) -> SyncResult:
        """Stores the workspace as a new version (none when unchanged: ``committed`` is False)."""
        return self._transport.json("POST", f"/v1/workspaces/{segment(name)}/sync")

    def fork(self, source: str, target: str) -> WorkspaceInfo:
        """A new workspace ``target`` that starts as a copy of ``source`` (copy-on-write; the
        source must be idle, else ConflictError)."""
        path = f"/v1/workspaces/{segment(source)}/fork"
        return self._transport.json("POST", path, {"name": target})

    def delete(self, name: str) -> None:
        """Deletes the workspace here and its stored versions (refused while in use)."""
        self._transport.send("DELETE", f"/v1/workspaces/{segment(name)}")
