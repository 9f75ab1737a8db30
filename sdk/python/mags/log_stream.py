"""A job's output from ``GET /v1/jobs/{id}/logs`` (Server-Sent Events), resumed from the last
byte offset received when the connection drops, so every byte arrives once and in order."""

from __future__ import annotations

import base64
import codecs
import http.client
import json
import time
import urllib.parse
from dataclasses import dataclass
from typing import Callable, Dict, Optional

from .errors import MagsError
from .event_stream import read_events
from .transport import Transport
from .types import Job, SyncProgress


@dataclass
class StreamCallbacks:
    """What to call as a job's output and events arrive; every one is optional."""

    #: Raw bytes, in order, each exactly once: ``on_output("stdout" | "stderr", data)``.
    on_output: Optional[Callable[[str, bytes], None]] = None
    #: Decoded text (UTF-8, a character split across chunks is joined first).
    on_stdout: Optional[Callable[[str], None]] = None
    on_stderr: Optional[Callable[[str], None]] = None
    #: A run's sandbox is up (once, before its command's output): its id.
    on_started: Optional[Callable[[str], None]] = None
    #: A run's sync or restore of its persistent workspace is under way.
    on_sync_progress: Optional[Callable[[SyncProgress], None]] = None


def follow_job_logs(
    transport: Transport,
    job_id: str,
    callbacks: StreamCallbacks,
    *,
    offset: int = 0,
    follow: bool = True,
    max_reconnects: int = 10,
) -> Job:
    """Streams the output to ``callbacks``; returns the job as the final ``end`` event has it."""
    decoders = {
        name: codecs.getincrementaldecoder("utf-8")(errors="replace")
        for name in ("stdout", "stderr")
    }
    failures = 0
    started = False  # a reconnection hears of the start again
    while True:
        query = urllib.parse.urlencode({"offset": offset, "follow": "true" if follow else "false"})
        try:
            with transport.stream(
                "GET",
                f"/v1/jobs/{urllib.parse.quote(job_id, safe='')}/logs?{query}",
                headers={"accept": "text/event-stream"},
            ) as response:
                for event in read_events(response.readline):
                    failures = 0
                    if event.event == "end":
                        ended: Job = json.loads(event.data)
                        _flush(callbacks, decoders)
                        return ended
                    if event.event == "started":
                        if not started and callbacks.on_started:
                            callbacks.on_started(json.loads(event.data)["sandboxId"])
                        started = True
                    elif event.event == "progress":
                        if callbacks.on_sync_progress:
                            callbacks.on_sync_progress(json.loads(event.data))
                    elif event.event in ("stdout", "stderr"):
                        payload = json.loads(event.data)
                        data = (
                            payload["text"].encode("utf-8")
                            if "text" in payload
                            else base64.b64decode(payload.get("base64", ""))
                        )
                        offset = int(event.id) if event.id else offset + len(data)
                        _deliver(callbacks, event.event, data, decoders[event.event])
            raise ConnectionError("the log stream ended before the job did")
        except MagsError as error:
            # An answer of the API's (404, 401) ends it; not reaching the server is retried.
            if error.status_code is not None:
                raise
            failures += 1
            if failures > max_reconnects:
                if error.code != "stream_broken":
                    raise
                raise MagsError(
                    f"The output of job {job_id} broke off and could not be resumed"
                    f" ({failures} tries): {error.message}",
                    code="log_stream_failed",
                    retryable=True,
                    hint=f"Read it again from byte {offset} (offset={offset}).",
                ) from error
        except (OSError, http.client.HTTPException) as error:
            failures += 1
            if failures > max_reconnects:
                raise MagsError(
                    f"The output of job {job_id} broke off and could not be resumed"
                    f" ({failures} tries): {error}",
                    code="log_stream_failed",
                    retryable=True,
                    hint=f"Read it again from byte {offset} (offset={offset}).",
                ) from error
        time.sleep(min(0.05 * 2**failures, 2.0))


def _deliver(
    callbacks: StreamCallbacks, stream: str, data: bytes, decoder: codecs.IncrementalDecoder
) -> None:
    if callbacks.on_output:
        callbacks.on_output(stream, data)
    text = decoder.decode(data)
    handler = callbacks.on_stdout if stream == "stdout" else callbacks.on_stderr
    if handler and text:
        handler(text)


def _flush(callbacks: StreamCallbacks, decoders: Dict[str, codecs.IncrementalDecoder]) -> None:
    """At the end, bytes of a character the output never finished are delivered as U+FFFD
    instead of being dropped (the decoder holds them back while more may come)."""
    for stream, decoder in decoders.items():
        text = decoder.decode(b"", final=True)
        handler = callbacks.on_stdout if stream == "stdout" else callbacks.on_stderr
        if handler and text:
            handler(text)
