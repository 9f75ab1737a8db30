"""Server-Sent Events as the log stream sends them, split anywhere."""

import io
import unittest

from mags.event_stream import ServerSentEvent, read_events


def events_of(text: bytes) -> list:
    return list(read_events(io.BytesIO(text).readline))


class ReadEventsTest(unittest.TestCase):
    def test_events_ids_comments_and_multi_line_data(self) -> None:
        stream = (
            b": keep-alive\n\n"
            b"event: stdout\nid: 6\ndata: {\"offset\":0,\"text\":\"hello\\n\"}\n\n"
            b"event: end\r\ndata: line one\r\ndata:line two\r\n\r\n"
            b"data: no event name\n\n"
        )
        self.assertEqual(
            events_of(stream),
            [
                ServerSentEvent("stdout", '{"offset":0,"text":"hello\\n"}', "6"),
                ServerSentEvent("end", "line one\nline two", "6"),
                ServerSentEvent("message", "no event name", "6"),
            ],
        )

    def test_an_event_the_stream_ends_in_is_dropped(self) -> None:
        self.assertEqual(
            events_of(b"event: stdout\ndata: {}\n\nevent: end\ndata: {"),
            [ServerSentEvent("stdout", "{}", None)],
        )

    def test_utf8_text_is_whole_per_line(self) -> None:
        self.assertEqual(
            events_of("data: héllo ✓\n\n".encode()),
            [ServerSentEvent("message", "héllo ✓", None)],
        )


if __name__ == "__main__":
    unittest.main()
