"""The SDK against a real mags server: MAGS_URL and MAGS_API_TOKEN (or MAGS_TOKEN) name it.

Without MAGS_URL these tests are skipped (test/python-sdk.test.ts starts a server and runs them).
Every test makes its own names, so a server with other work on it is fine.
"""

import hashlib
import io
import os
import secrets
import tempfile
import unittest
import urllib.parse
from typing import List, Tuple

from mags import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    Mags,
    MagsError,
    NotFoundError,
    RunFile,
)

from cutting_relay import CuttingRelay

SKIP = None if os.environ.get("MAGS_URL") else "MAGS_URL is not set: no server to test against"


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@unittest.skipIf(SKIP is not None, SKIP or "")
class ServerTest(unittest.TestCase):
    mags: Mags

    @classmethod
    def setUpClass(cls) -> None:
        cls.mags = Mags()

    def test_health_and_whoami(self) -> None:
        self.assertEqual(self.mags.health()["status"], "ok")
        self.assertTrue(self.mags.whoami()["owner"])

    def test_run_and_wait_streams_the_output_and_the_exit_code(self) -> None:
        streamed: List[Tuple[str, bytes]] = []
        stdout_parts: List[str] = []
        result = self.mags.run_and_wait(
            "echo out; echo err >&2; printf 'caf\\303\\251'; exit 3",
            on_output=lambda stream, data: streamed.append((stream, data)),
            on_stdout=stdout_parts.append,
        )
        self.assertEqual(result.exit_code, 3)
        self.assertEqual(result.stdout, "out\ncafé")
        self.assertEqual(result.stderr, "err\n")
        self.assertEqual("".join(stdout_parts), "out\ncafé")
        stdout_bytes = b"".join(data for stream, data in streamed if stream == "stdout")
        self.assertEqual(stdout_bytes, "out\ncafé".encode())
        self.assertEqual(result.job["status"], "failed")
        self.assertEqual(result.job["exitCode"], 3)

    def test_logs_resume_from_a_byte_offset(self) -> None:
        result = self.mags.run_and_wait("printf 'abc'; printf 'd\\303\\251f'")
        job = self.mags.jobs.get(result.job["id"])
        self.assertEqual(job["logBytes"], len("abcdéf".encode()))
        rest: List[bytes] = []
        text: List[str] = []
        ended = self.mags.jobs.logs(
            job["id"],
            offset=3,
            follow=False,
            on_output=lambda _, data: rest.append(data),
            on_stdout=text.append,
        )
        self.assertEqual(b"".join(rest), "déf".encode())
        self.assertEqual("".join(text), "déf")
        self.assertEqual(ended["status"], "succeeded")

    def test_a_run_gets_its_files_and_an_exact_argv(self) -> None:
        payload = bytes(range(256)) * 4096  # 1 MiB, every byte value
        result = self.mags.run_and_wait(
            ["sh", "-c", "sha256sum big.bin small.txt | cut -c1-64; ./tool.sh"],
            files=[
                RunFile("big.bin", io.BytesIO(payload)),  # a file object: streamed
                RunFile("small.txt", "text"),
                RunFile("tool.sh", b"#!/bin/sh\necho tool ran\n", mode=0o755),
            ],
        )
        self.assertEqual(result.exit_code, 0, result.stderr)

        self.assertEqual(
            result.stdout.split("\n")[:3],
            [hashlib.sha256(payload).hexdigest(), hashlib.sha256(b"text").hexdigest(), "tool ran"],
        )

    def test_jobs_list_and_get(self) -> None:
        job = self.mags.run("true")
        self.mags.jobs.wait(job["id"])
        page = self.mags.jobs.list(limit=1)
        self.assertEqual(len(page["jobs"]), 1)
        self.assertEqual(self.mags.jobs.get(job["id"])["status"], "succeeded")

    def test_a_workspace_keeps_writes_syncs_versions_and_forks(self) -> None:
        name = unique("py-ws")
        fork = f"{name}-fork"
        try:
            first = self.mags.run_and_wait("echo v1 > kept.txt", workspace=name)
            self.assertEqual(first.exit_code, 0, first.stderr)
            self.assertIn(name, [workspace["name"] for workspace in self.mags.workspaces.list()])
            synced = self.mags.workspaces.sync(name)
            self.assertTrue(synced["committed"])
            self.assertEqual(synced["version"], 1)
            self.assertEqual([v["version"] for v in self.mags.workspaces.versions(name)], [1])
            unchanged = self.mags.workspaces.sync(name)
            self.assertFalse(unchanged["committed"])
            forked = self.mags.workspaces.fork(name, fork)
            self.assertEqual(forked["forkedFrom"], name)
            self.mags.run_and_wait("echo v2 > kept.txt", workspace=fork)
            self.assertEqual(self.mags.run_and_wait("cat kept.txt", workspace=name).stdout, "v1\n")
            self.assertEqual(self.mags.run_and_wait("cat kept.txt", workspace=fork).stdout, "v2\n")
            with self.assertRaises(ConflictError):
                self.mags.workspaces.fork(name, fork)  # the name is taken
        finally:
            for workspace in (fork, name):
                try:
                    self.mags.workspaces.delete(workspace)
                except NotFoundError:
                    pass

    def test_a_sandbox_runs_commands_and_its_files_are_read_and_written(self) -> None:
        name = unique("py-box")
        sandbox = self.mags.sandboxes.create(name, sleep=False)
        try:
            self.assertEqual(sandbox["status"], "running")
            self.assertIn(name, [s["name"] for s in self.mags.sandboxes.list()])
            lines: List[str] = []
            result = self.mags.sandboxes.exec_and_wait(
                name, "pwd; echo $GREETING", env={"GREETING": "hi"}, on_stdout=lines.append
            )
            self.assertEqual(result.exit_code, 0, result.stderr)
            self.assertEqual(result.stdout, "/workspace\nhi\n")
            self.assertEqual("".join(lines), result.stdout)

            # Output arrives while the command runs: it waits for a file that only the callback,
            # on hearing its first line, writes (without streaming it would end at its timeout).
            heard: List[str] = []

            def on_stdout(text: str) -> None:
                if not heard:
                    self.mags.sandboxes.files.write(name, "/tmp/go", "")
                heard.append(text)

            waited = self.mags.sandboxes.exec_and_wait(
                name,
                "echo waiting; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo done",
                timeout_seconds=60,
                on_stdout=on_stdout,
            )
            self.assertEqual((waited.exit_code, waited.stdout), (0, "waiting\ndone\n"))

            files = self.mags.sandboxes.files
            files.write(name, "/workspace/run.sh", "#!/bin/sh\necho script ran\n", mode=0o755)
            ran = self.mags.sandboxes.exec_and_wait(name, ["./run.sh"])
            self.assertEqual(ran.stdout, "script ran\n")
            listing = files.list(name, "/workspace")
            entry = next(e for e in listing["entries"] if e["name"] == "run.sh")
            self.assertEqual((entry["type"], entry["mode"]), ("file", "0755"))
            self.assertFalse(listing["truncated"])

            big = secrets.token_bytes(3 * 1024 * 1024)
            files.write(name, "/tmp/big.bin", io.BytesIO(big))
            self.assertEqual(files.read(name, "/tmp/big.bin"), big)
            with tempfile.TemporaryDirectory() as directory:
                destination = os.path.join(directory, "copy.bin")
                self.assertEqual(files.download(name, "/tmp/big.bin", destination), len(big))
                with open(destination, "rb") as copy:
                    self.assertEqual(copy.read(), big)
                # A file that is not there: the error, and the local file is left as it was.
                with self.assertRaises(NotFoundError):
                    files.download(name, "/tmp/missing.bin", destination)
                self.assertEqual(os.path.getsize(destination), len(big))
            with self.assertRaises(InvalidInputError):
                files.read(name, "relative/path")
        finally:
            self.mags.sandboxes.delete(name)
        with self.assertRaises(NotFoundError):
            self.mags.sandboxes.get(name)

    def test_a_download_cut_short_leaves_the_file_the_user_had(self) -> None:
        name = unique("py-cut")
        self.mags.sandboxes.create(name, sleep=False)
        try:
            big = secrets.token_bytes(2 * 1024 * 1024)
            self.mags.sandboxes.files.write(name, "/tmp/big.bin", io.BytesIO(big))
            port = urllib.parse.urlsplit(self.mags.url).port or 80
            relay = CuttingRelay(port, limit=256 * 1024)
            try:
                token = os.environ.get("MAGS_API_TOKEN") or os.environ.get("MAGS_TOKEN")
                cut = Mags(f"http://127.0.0.1:{relay.port}", token, environment={})
                with tempfile.TemporaryDirectory() as directory:
                    destination = os.path.join(directory, "kept.bin")
                    with open(destination, "wb") as own:
                        own.write(b"the user's own bytes")
                    os.chmod(destination, 0o640)
                    with self.assertRaises(MagsError) as caught:
                        cut.sandboxes.files.download(name, "/tmp/big.bin", destination)
                    self.assertEqual(caught.exception.code, "stream_broken")
                    self.assertTrue(caught.exception.retryable)
                    with open(destination, "rb") as kept:
                        self.assertEqual(kept.read(), b"the user's own bytes")
                    self.assertEqual(os.listdir(directory), ["kept.bin"])  # no partial file
                    # Whole, it replaces the file and keeps its mode.
                    files = self.mags.sandboxes.files
                    self.assertEqual(files.download(name, "/tmp/big.bin", destination), len(big))
                    with open(destination, "rb") as copy:
                        self.assertEqual(copy.read(), big)
                    self.assertEqual(os.stat(destination).st_mode & 0o777, 0o640)
                    self.assertEqual(os.listdir(directory), ["kept.bin"])
            finally:
                relay.close()
        finally:
            self.mags.sandboxes.delete(name)

    def test_output_ending_inside_a_character_is_not_dropped(self) -> None:
        # The last two bytes begin a three-byte UTF-8 character that never ends.
        text: List[str] = []
        result = self.mags.run_and_wait("printf 'ok\\342\\202'", on_stdout=text.append)
        self.assertEqual(result.exit_code, 0, result.stderr)
        self.assertEqual(result.stdout, "ok\ufffd")
        self.assertEqual("".join(text), "ok\ufffd")

    def test_api_errors_are_their_classes(self) -> None:
        with self.assertRaises(NotFoundError) as missing:
            self.mags.sandboxes.get(unique("no-such"))
        self.assertEqual(missing.exception.status_code, 404)
        with self.assertRaises(InvalidInputError) as invalid:
            self.mags.sandboxes.create("not a name!")
        self.assertTrue(invalid.exception.message)
        with self.assertRaises(NotFoundError):
            self.mags.jobs.get("job_doesNotExist")
        wrong = Mags(self.mags.url, "not-a-token")
        with self.assertRaises(AuthenticationError) as unauthorized:
            wrong.whoami()
        self.assertEqual(unauthorized.exception.code, "unauthorized")
        self.assertTrue(unauthorized.exception.hint)


if __name__ == "__main__":
    unittest.main()
