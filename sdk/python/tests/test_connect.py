"""Connecting: the URL and token from arguments or the environment, and a server that is not
there (a real closed port on loopback)."""

import socket
import unittest

from mags import InvalidInputError, Mags, MagsError


def closed_port() -> int:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]


class ConnectTest(unittest.TestCase):
    def test_no_url_is_an_error_that_says_what_to_set(self) -> None:
        with self.assertRaises(InvalidInputError) as caught:
            Mags(environment={})
        self.assertIn("MAGS_URL", caught.exception.hint or "")

    def test_a_url_that_is_not_http_is_refused(self) -> None:
        with self.assertRaises(InvalidInputError):
            Mags("ftp://example.com", environment={})

    def test_url_and_token_come_from_the_environment(self) -> None:
        mags = Mags(environment={"MAGS_URL": "http://127.0.0.1:7070/", "MAGS_API_TOKEN": "t"})
        self.assertEqual(mags.url, "http://127.0.0.1:7070")

    def test_a_server_that_is_not_there_is_server_unreachable(self) -> None:
        mags = Mags(f"http://127.0.0.1:{closed_port()}", "token", environment={})
        with self.assertRaises(MagsError) as caught:
            mags.health()
        self.assertEqual(caught.exception.code, "server_unreachable")
        self.assertTrue(caught.exception.retryable)
        self.assertIsNone(caught.exception.status_code)

    def test_a_server_that_never_answers_is_a_timeout(self) -> None:
        # A listener that never accepts: the kernel completes the connection, nobody answers.
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(1)
            port = silent.getsockname()[1]
            mags = Mags(f"http://127.0.0.1:{port}", "token", timeout_seconds=0.2, environment={})
            with self.assertRaises(MagsError) as caught:
                mags.health()
        self.assertEqual(caught.exception.code, "timeout")
        self.assertIn("timeout_seconds", caught.exception.hint or "")
        self.assertTrue(caught.exception.retryable)  # a GET: asking again does nothing twice

    def test_a_post_that_timed_out_is_not_retryable(self) -> None:
        # It may have created the sandbox on a server that was only slow to answer.
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(1)
            port = silent.getsockname()[1]
            mags = Mags(f"http://127.0.0.1:{port}", "token", timeout_seconds=0.2, environment={})
            with self.assertRaises(MagsError) as caught:
                mags.sandboxes.create("box")
        self.assertEqual(caught.exception.code, "timeout")
        self.assertFalse(caught.exception.retryable)
        self.assertIn("sandboxes.list", caught.exception.hint or "")


if __name__ == "__main__":
    unittest.main()
