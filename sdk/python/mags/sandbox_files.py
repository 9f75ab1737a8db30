"""Files of a long-lived sandbox, read and written without making a job."""

from __future__ import annotations

import os
import secrets
import stat
from typing import Iterator

from .errors import MagsError
from .paths import query_string, sandbox_path
from .transport import StreamedResponse, Transport
from .types import Data, DirectoryListing


class FileStream:
    """A regular file of the sandbox as it is read: its size (known before any byte), its bytes in
    chunks. Close it (or use ``with``) to end the read inside the sandbox early."""

    def __init__(self, response: StreamedResponse) -> None:
        self._response = response
        self.size_bytes = int(response.headers.get("content-length", "0"))

    def __iter__(self) -> Iterator[bytes]:
        return self._response.chunks()

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> "FileStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SandboxFiles:
    """``mags.sandboxes.files``: list, read, stream, download and write files of a sandbox."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def list(self, name: str, path: str) -> DirectoryListing:
        """A directory's entries, sorted by name (at most 10,000; ``truncated`` past that)."""
        query = query_string({"path": path})
        return self._transport.json("GET", f"{sandbox_path(name)}/directory{query}")

    def read(self, name: str, path: str) -> bytes:
        """Reads a small file whole into memory; ``stream`` or ``download`` for large ones."""
        with self.stream(name, path) as stream:
            return b"".join(stream)

    def stream(self, name: str, path: str) -> FileStream:
        """Streams a regular file (a directory, a device or an unreadable file is refused)."""
        query = query_string({"path": path})
        return FileStream(self._transport.stream("GET", f"{sandbox_path(name)}/files{query}"))

    def download(self, name: str, path: str, destination: str) -> int:
        """Copies a file of the sandbox to a local file, streamed (memory stays small whatever the
        size); returns the bytes written. The bytes go to a temporary file beside ``destination``,
        renamed over it only once all have arrived: a transfer cut short (MagsError
        ``stream_broken`` or ``download_incomplete``, both retryable) or refused by the server
        (a missing file) raises and leaves a file the user had there as it was."""
        written = 0
        # Opened only once the sandbox has answered: a refused read creates nothing.
        with self.stream(name, path) as stream:
            partial = _create_beside(destination)
            try:
                with open(partial, "wb") as output:
                    for chunk in stream:
                        output.write(chunk)
                        written += len(chunk)
                if written != stream.size_bytes:
                    raise MagsError(
                        f"The download of {path} ended after {written}"
                        f" of {stream.size_bytes} bytes.",
                        code="download_incomplete",
                        retryable=True,
                    )
                os.replace(partial, destination)
            except BaseException:
                if os.path.lexists(partial):
                    os.remove(partial)
                raise
        return written

    def write(self, name: str, path: str, data: Data, *, mode: int | None = None) -> None:
        """Writes a file atomically (a failed upload leaves nothing behind); ``data`` may be a
        binary file object, sent as it is read. ``mode``: permission bits, e.g. 0o755."""
        query = query_string({"path": path, "mode": None if mode is None else format(mode, "o")})
        self._transport.send("PUT", f"{sandbox_path(name)}/files{query}", data)


def _create_beside(destination: str) -> str:
    """A new empty file in ``destination``'s directory (so that the rename cannot cross file
    systems): created as ``open(destination, "wb")`` would create it (0o666 less the umask), or
    with the mode of the file it will replace."""
    directory, base = os.path.split(os.path.abspath(destination))
    try:
        mode = stat.S_IMODE(os.stat(destination).st_mode)
    except FileNotFoundError:
        mode = None
    while True:
        partial = os.path.join(directory, f".{base}.{secrets.token_hex(4)}.part")
        try:
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(descriptor)
        if mode is not None:
            os.chmod(partial, mode)
        return partial
