"""Long-lived sandboxes: create one, run commands in it, read and write its files, delete it."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

from .jobs import Jobs, OutputCallback, TextCallback
from .paths import defined, sandbox_path
from .sandbox_files import SandboxFiles
from .transport import Transport
from .types import CompletedJob, Job, SandboxInfo

Command = Union[str, Sequence[str]]


def command_body(command: Command) -> Union[str, List[str]]:
    """One string runs through ``/bin/sh -c``; a sequence is the exact argv."""
    return command if isinstance(command, str) else list(command)


class Sandboxes:
    """``mags.sandboxes``."""

    def __init__(self, transport: Transport, jobs: Jobs) -> None:
        self._transport = transport
        self._jobs = jobs
        self.files = SandboxFiles(transport)

    def create(
        self,
        name: str,
        *,
        workspace: Optional[str] = None,
        ephemeral: Optional[bool] = None,
        image: Optional[str] = None,
        limits: Optional[Mapping[str, float]] = None,
        network: Optional[bool] = None,
        sleep: Optional[bool] = None,
        runtime: Optional[str] = None,
    ) -> SandboxInfo:
        """Starts a sandbox on workspace ``workspace`` (default: one named like the sandbox).

        ``limits`` takes the API's names: ``{"memoryMiB": 1024, "cpus": 1, "pidsMax": 512,
        "diskMiB": 4096}``. ``sleep`` (default True): frozen when idle, woken by any use.
        """
        body = defined(
            name=name,
            workspace=workspace,
            ephemeral=ephemeral,
            image=image,
            limits=dict(limits) if limits is not None else None,
            network=network,
            sleep=sleep,
            runtime=runtime,
        )
        return self._transport.json("POST", "/v1/sandboxes", body)

    def get(self, name: str) -> SandboxInfo:
        return self._transport.json("GET", sandbox_path(name))

    def list(self) -> List[SandboxInfo]:
        return self._transport.json("GET", "/v1/sandboxes")["sandboxes"]

    def start(self, name: str) -> SandboxInfo:
        """Starts a stopped sandbox again on its workspace."""
        return self._transport.json("POST", f"{sandbox_path(name)}/start")

    def stop(self, name: str) -> SandboxInfo:
        return self._transport.json("POST", f"{sandbox_path(name)}/stop")

    def update(self, name: str, *, sleep: bool) -> SandboxInfo:
        """Whether it sleeps (is frozen) when idle; a sleeping one is woken by any use."""
        return self._transport.json("PATCH", sandbox_path(name), {"sleep": sleep})

    def delete(self, name: str) -> None:
        """Deletes the sandbox; its workspace stays."""
        self._transport.send("DELETE", sandbox_path(name))

    def exec(
        self,
        name: str,
        command: Command,
        *,
        env: Optional[Dict[str, str]] = None,
        cwd: Optional[str] = None,
        timeout_seconds: Optional[float] = None,
    ) -> Job:
        """Starts a command in the sandbox and returns its job at once (follow it with ``jobs``)."""
        body: Dict[str, Any] = defined(
            command=command_body(command), env=env, cwd=cwd, timeoutSeconds=timeout_seconds
        )
        return self._transport.json("POST", f"{sandbox_path(name)}/exec", body)

    def exec_and_wait(
        self,
        name: str,
        command: Command,
        *,
        env: Optional[Dict[str, str]] = None,
        cwd: Optional[str] = None,
        timeout_seconds: Optional[float] = None,
        on_output: Optional[OutputCallback] = None,
        on_stdout: Optional[TextCallback] = None,
        on_stderr: Optional[TextCallback] = None,
    ) -> CompletedJob:
        """Runs a command in the sandbox and waits for it, streaming its output to the callbacks."""
        job = self.exec(name, command, env=env, cwd=cwd, timeout_seconds=timeout_seconds)
        return self._jobs.wait(
            job["id"], on_output=on_output, on_stdout=on_stdout, on_stderr=on_stderr
        )
