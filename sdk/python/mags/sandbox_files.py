"""Files of a long-lived sandbox, read and written without making a job."""

from __future__ import annotations

import os
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
        size); returns the bytes written. A transfer cut short raises and removes the partial file;
        a read the server refuses (a missing file) raises before ``destination`` is touched."""
        written = 0
        # Opened only once the sandbox has answered: a refused read leaves `destination` as it was.
        with self.stream(name, path) as stream:
            try:
                with open(destination, "wb") as output:
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
            except BaseException:
                if os.path.exists(destination):
                    os.remove(destination)
                raise
        return written

    def write(self, name: str, path: str, data: Data, *, mode: int | None = None) -> None:
        """Writes a file atomically (a failed upload leaves nothing behind); ``data`` may be a
        binary file object, sent as it is read. ``mode``: permission bits, e.g. 0o755."""
        query = query_string({"path": path, "mode": None if mode is None else format(mode, "o")})
        self._transport.send("PUT", f"{sandbox_path(name)}/files{query}", data)
