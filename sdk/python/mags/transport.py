"""HTTP to the mags server over the standard library's http.client: one connection per request,
the bearer token on each, JSON or raw bytes in and out, and any non-2xx answer raised as the
MagsError subclass its status and body name (errors.error_from_response).

Like the TypeScript SDK (whose fetch ignores HTTP_PROXY), it connects directly: no proxy settings.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import urllib.parse
from typing import Any, BinaryIO, Iterator, Mapping, Optional, Union

from .errors import InvalidInputError, MagsError, error_from_response, unreachable_error

# What a request body may be: bytes, text (sent as UTF-8), or a binary file object read as it is
# sent (chunked transfer encoding, so a large file is never whole in memory).
Body = Union[bytes, bytearray, str, BinaryIO]


# RFC 9110, 9.2.2: requests that can be sent again without a second effect. A POST that timed
# out may have started a run or a sandbox on the server: sending it again could start another.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class StreamedResponse:
    """A 2xx answer whose body is read as it arrives; close it (or use ``with``) when done.

    A body that breaks off (the connection reset or closed early, a read timing out) raises
    MagsError ``stream_broken``, retryable, like every other failure of the SDK."""

    def __init__(
        self,
        connection: http.client.HTTPConnection,
        response: http.client.HTTPResponse,
        method: str = "GET",
        path: str = "",
    ):
        self._connection = connection
        self._response = response
        self._method = method
        self._path = path
        self.status = response.status
        self.headers: Mapping[str, str] = {
            key.lower(): value for key, value in response.getheaders()
        }

    def readline(self) -> bytes:
        """One line with its b'\\n' (b'' at the end of the body)."""
        try:
            return self._response.readline()
        except (OSError, http.client.HTTPException) as error:
            raise self._broken(error) from error

    def chunks(self, size: int = 64 * 1024) -> Iterator[bytes]:
        """The body in pieces of at most ``size`` bytes, as they come."""
        while True:
            try:
                chunk = self._response.read1(size)
            except (OSError, http.client.HTTPException) as error:
                raise self._broken(error) from error
            if not chunk:
                return
            yield chunk

    def read(self) -> bytes:
        try:
            return self._response.read()
        except (OSError, http.client.HTTPException) as error:
            raise self._broken(error) from error

    def _broken(self, cause: BaseException) -> MagsError:
        # IncompleteRead: the body ended before its Content-Length or last chunk (http.client).
        again = self._method in IDEMPOTENT_METHODS
        return MagsError(
            f"The answer to {self._method} {self._path} broke off while it was being read:"
            f" {cause!r}",
            code="stream_broken",
            retryable=again,
            hint=(
                "Send the request again: a network or proxy between you and the server may have"
                " cut the connection."
                if again
                else "The server had carried it out: look before sending it again."
            ),
        )

    def close(self) -> None:
        self._response.close()
        self._connection.close()

    def __enter__(self) -> "StreamedResponse":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Transport:
    """Sends requests to one server (``url``, e.g. http://127.0.0.1:7070) with one token."""

    def __init__(self, url: str, token: Optional[str], timeout_seconds: float) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise InvalidInputError(
                f"Not a mags server URL: {url!r}.",
                code="invalid_url",
                hint="Give the server's http:// or https:// URL, e.g. http://127.0.0.1:7070",
            )
        self.url = url.rstrip("/")
        self._parsed = parsed
        self._base_path = parsed.path.rstrip("/")
        self._token = token
        self.timeout_seconds = timeout_seconds

    def json(self, method: str, path: str, body: Any = None) -> Any:
        """Sends ``body`` as JSON (no body when None); returns the parsed answer (None if empty)."""
        with self.stream(method, path, json_body=body) as response:
            data = response.read()
        return json.loads(data) if data else None

    def send(self, method: str, path: str, body: Optional[Body] = None) -> bytes:
        """Sends raw bytes (application/octet-stream) and returns the answer's bytes."""
        with self.stream(method, path, body=body) as response:
            return response.read()

    def stream(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: Optional[Body] = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> StreamedResponse:
        """Sends a request and returns the answer unread; a non-2xx answer raises its MagsError."""
        request_headers = {"accept": "application/json", **(headers or {})}
        if self._token:
            request_headers["authorization"] = f"Bearer {self._token}"
        payload: Optional[Union[bytes, BinaryIO]] = None
        if json_body is not None:
            payload = json.dumps(json_body).encode("utf-8")
            request_headers["content-type"] = "application/json"
        elif body is not None:
            if isinstance(body, str):
                payload = body.encode("utf-8")
            elif isinstance(body, bytearray):
                payload = bytes(body)
            else:
                payload = body
            request_headers["content-type"] = "application/octet-stream"
        if isinstance(payload, bytes):
            request_headers["content-length"] = str(len(payload))
        elif payload is None and method in ("POST", "PUT", "PATCH"):
            request_headers["content-length"] = "0"
        connection = self._connect()
        try:
            # Apart, so that a failure to connect (nothing sent yet) is always safe to retry.
            connection.connect()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            raise unreachable_error(self.url, error) from error
        again = method in IDEMPOTENT_METHODS
        try:
            # A file object (no Content-Length) is sent chunked: http.client's own rule.
            connection.request(
                method, self._base_path + path, body=payload, headers=request_headers
            )
            response = connection.getresponse()
        except socket.timeout as error:
            connection.close()
            raise MagsError(
                f"The mags server at {self.url} did not answer {method} {path}"
                f" within {self.timeout_seconds:g} s.",
                code="timeout",
                retryable=again,
                hint="A long request (a large workspace's sync) may need more:"
                " Mags(timeout_seconds=...)."
                + (
                    ""
                    if again
                    else " It may have been carried out all the same: look (jobs.list,"
                    " sandboxes.list) before sending it again."
                ),
            ) from error
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            # Cut after the request went out: a POST may have been carried out all the same.
            unreachable = unreachable_error(self.url, error)
            unreachable.retryable = again
            raise unreachable from error
        if 200 <= response.status < 300:
            return StreamedResponse(connection, response, method, path)
        try:
            data = response.read()
            raise error_from_response(response.status, data, dict(response.getheaders()))
        except (OSError, http.client.HTTPException) as error:
            raise MagsError(
                f"The server answered HTTP {response.status}, and the answer broke off: {error}",
                code="server_error",
                status_code=response.status,
                retryable=True,
            ) from error
        finally:
            connection.close()

    def _connect(self) -> http.client.HTTPConnection:
        host = self._parsed.hostname or ""
        port = self._parsed.port
        if self._parsed.scheme == "https":
            return http.client.HTTPSConnection(
                host, port, timeout=self.timeout_seconds, context=ssl.create_default_context()
            )
        return http.client.HTTPConnection(host, port, timeout=self.timeout_seconds)
