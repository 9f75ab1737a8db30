"""Server-Sent Events, parsed as the WHATWG HTML standard says (section 9.2.6, "Interpreting an
event stream"): fields per line, an event per blank line, ``:`` comments (keep-alives) ignored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Optional


@dataclass(frozen=True)
class ServerSentEvent:
    event: str
    data: str
    id: Optional[str]


def read_events(readline: Callable[[], bytes]) -> Iterator[ServerSentEvent]:
    """The events of a stream read line by line (``readline`` returns b'' at its end).

    An event the stream ends in the middle of is dropped, as a browser's EventSource does.
    """
    event = ""
    data: list[str] = []
    last_id: Optional[str] = None
    while True:
        raw = readline()
        if not raw:
            return
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line == "":
            if data:
                yield ServerSentEvent(event or "message", "\n".join(data), last_id)
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
        elif field == "id" and "\0" not in value:
            last_id = value
