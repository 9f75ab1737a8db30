"""URL paths and query strings of the API, with every name escaped."""

from __future__ import annotations

import urllib.parse
from typing import Mapping, Optional, Union

QueryValue = Optional[Union[str, int, bool]]


def segment(name: str) -> str:
    """One path segment: a name escaped so that it can never reach another route."""
    return urllib.parse.quote(name, safe="")


def query_string(query: Mapping[str, QueryValue]) -> str:
    """``?a=1&b=x`` of the parameters that are set (none: the empty string)."""
    pairs = [
        (key, ("true" if value else "false") if isinstance(value, bool) else str(value))
        for key, value in query.items()
        if value is not None
    ]
    return f"?{urllib.parse.urlencode(pairs)}" if pairs else ""


def sandbox_path(name: str) -> str:
    return f"/v1/sandboxes/{segment(name)}"


def defined(**fields: object) -> dict[str, object]:
    """The fields that are set: an API body without the options a caller left out."""
    return {key: value for key, value in fields.items() if value is not None}
