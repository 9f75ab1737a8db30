"""The API's error answers become one class hierarchy (as src/sdk/api-error.ts maps them)."""

import json
import unittest

from mags.errors import (
    AuthenticationError,
    ConflictError,
    DependencyMissingError,
    InvalidInputError,
    MagsError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    error_from_response,
)


def body(code: str, message: str = "m", hint: str = "") -> bytes:
    error = {"code": code, "message": message, "requestId": "req_1"}
    if hint:
        error["hint"] = hint
    return json.dumps({"error": error}).encode()


class ErrorFromResponseTest(unittest.TestCase):
    def test_each_status_has_its_class_and_keeps_the_fields(self) -> None:
        cases = [
            (400, "invalid_input", InvalidInputError),
            (413, "too_large", InvalidInputError),
            (401, "unauthorized", AuthenticationError),
            (403, "read_only", PermissionDeniedError),
            (404, "not_found", NotFoundError),
            (409, "workspace_busy", ConflictError),
            (409, "owner_disk_quota", QuotaExceededError),
            (503, "dependency_missing", DependencyMissingError),
            (500, "internal", MagsError),
        ]
        for status, code, expected in cases:
            with self.subTest(status=status, code=code):
                error = error_from_response(status, body(code, "what happened", "what to do"))
                self.assertIs(type(error), expected)
                self.assertIsInstance(error, MagsError)
                self.assertEqual(error.code, code)
                self.assertEqual(error.status_code, status)
                self.assertEqual(error.message, "what happened")
                self.assertEqual(error.hint, "what to do")
                self.assertEqual(error.request_id, "req_1")
                self.assertEqual(error.to_display_string(), "what happened\n  hint: what to do")

    def test_a_quota_is_a_conflict_and_retrying_only_what_may_help(self) -> None:
        self.assertIsInstance(error_from_response(409, body("owner_disk_quota")), ConflictError)
        self.assertTrue(error_from_response(503, body("x")).retryable)
        self.assertTrue(error_from_response(502, b"").retryable)
        self.assertFalse(error_from_response(400, body("x")).retryable)

    def test_rate_limit_carries_retry_after(self) -> None:
        error = error_from_response(429, body("running_jobs"), {"Retry-After": "7"})
        self.assertIsInstance(error, RateLimitError)
        assert isinstance(error, RateLimitError)
        self.assertEqual(error.retry_after_seconds, 7.0)
        self.assertTrue(error.retryable)
        # Without the header (or a date in it), one second.
        without_header = error_from_response(429, b"{}")
        assert isinstance(without_header, RateLimitError)
        self.assertEqual(without_header.retry_after_seconds, 1.0)

    def test_a_body_that_is_not_the_api_error_still_says_something(self) -> None:
        error = error_from_response(502, b"<html>Bad Gateway</html>")
        self.assertEqual(error.code, "server_error")
        self.assertEqual(error.message, "<html>Bad Gateway</html>")
        self.assertEqual(error_from_response(404, b"").message, "The server answered HTTP 404.")


if __name__ == "__main__":
    unittest.main()
