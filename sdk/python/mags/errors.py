"""The SDK's errors: one class hierarchy, chosen from the API's HTTP status and error body.

The names and fields follow the TypeScript SDK (src/errors/mags-error.ts, src/sdk/api-error.ts),
so a catch in either language reads the same.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional


class MagsError(Exception):
    """Every error the SDK raises: a stable ``code``, a ``hint`` that says what to do next."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        hint: Optional[str] = None,
        retryable: bool = False,
        status_code: Optional[int] = None,
        request_id: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.hint = hint
        self.retryable = retryable
        self.status_code = status_code
        self.request_id = request_id

    def to_display_string(self) -> str:
        """The message plus the hint, as the CLI prints it."""
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class InvalidInputError(MagsError):
    """The request failed validation (a bad name, option or path): HTTP 400 or 413."""


class AuthenticationError(MagsError):
    """A missing, wrong or revoked API token: HTTP 401."""


class PermissionDeniedError(MagsError):
    """The token is fine but the action is not allowed (a file the sandbox may not touch): 403."""


class NotFoundError(MagsError):
    """No such job, sandbox or workspace of this owner: HTTP 404."""


class ConflictError(MagsError):
    """A resource is busy or taken (a workspace in use, a name already used): HTTP 409."""


class QuotaExceededError(ConflictError):
    """Over a quota that frees up only when the owner deletes something: ``owner_disk_quota``."""


class RateLimitError(MagsError):
    """Over a limit that frees up with time: HTTP 429; retry after ``retry_after_seconds``."""

    def __init__(self, message: str, *, retry_after_seconds: float, **options: Any) -> None:
        options.setdefault("retryable", True)
        super().__init__(message, **options)
        self.retry_after_seconds = retry_after_seconds


class DependencyMissingError(MagsError):
    """Something the server needs is missing (the base image, a runtime): HTTP 503, retryable."""


def error_from_response(
    status: int, body: bytes, headers: Optional[Mapping[str, str]] = None
) -> MagsError:
    """The one place that maps an HTTP status and error body to the error class a caller catches."""
    error: dict[str, Any] = {}
    try:
        parsed = json.loads(body.decode("utf-8"))
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
            error = parsed["error"]
    except (UnicodeDecodeError, ValueError):
        text = body.decode("utf-8", "replace").strip()[:500]
        if text:
            error = {"message": text}
    message = error.get("message") or f"The server answered HTTP {status}."
    options: dict[str, Any] = {
        "hint": error.get("hint"),
        "status_code": status,
        "request_id": error.get("requestId"),
    }
    code = error.get("code")
    if status in (400, 413):
        return InvalidInputError(message, code=code or "invalid_input", **options)
    if status == 401:
        return AuthenticationError(message, code=code or "unauthorized", **options)
    if status == 403:
        return PermissionDeniedError(message, code=code or "permission_denied", **options)
    if status == 404:
        return NotFoundError(message, code=code or "not_found", **options)
    if status == 409 and code == "owner_disk_quota":
        return QuotaExceededError(message, code=code, **options)
    if status == 409:
        return ConflictError(message, code=code or "conflict", **options)
    if status == 429:
        # Retry-After is seconds here (RFC 9110 also allows a date, which mags never sends).
        retry_after = _header(headers, "retry-after")
        try:
            seconds = float(retry_after) if retry_after is not None else 1.0
        except ValueError:
            seconds = 1.0
        return RateLimitError(
            message,
            code=code or "rate_limited",
            retry_after_seconds=seconds if seconds >= 0 else 1.0,
            **options,
        )
    if status == 503:
        return DependencyMissingError(
            message, code=code or "dependency_missing", retryable=True, **options
        )
    return MagsError(message, code=code or "server_error", retryable=status >= 500, **options)


def unreachable_error(url: str, cause: BaseException) -> MagsError:
    """The server could not be reached at all (refused, no route, TLS failure, timeout)."""
    error = MagsError(
        f"Cannot reach the mags server at {url}: {cause}",
        code="server_unreachable",
        retryable=True,
        hint="Is mags server running there? Check MAGS_URL (or the url argument).",
    )
    error.__cause__ = cause
    return error


def _header(headers: Optional[Mapping[str, str]], name: str) -> Optional[str]:
    if headers is None:
        return None
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None
