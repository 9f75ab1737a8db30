/**
 * A `mags server` process in a cluster on a shared state file, for tests: what `mags server
 * --state FILE --host-id ID [--api-only]` starts, with the cluster's timings shortened (the
 * CLI's cluster flags take a postgres:// state; SQLite shared by processes on one machine is
 * enough, and lighter, for what these tests look at). Environment: MAGS_HOME, TEST_STATE_FILE,
 * TEST_HOST_ID, TEST_API_ONLY=1. Prints `listening on URL`; SIGTERM stops its sandboxes and exits.
 */
import { startServer } from '../../src/server/start-server.ts';
import { createSqliteStateRepository } from '../../src/state/sqlite/sqlite-state-repository.ts';

const server = await startServer({
  port: 0,
  repository: createSqliteStateRepository(process.env.TEST_STATE_FILE as string),
  hostId: process.env.TEST_HOST_ID,
  scheduling: { poolSize: 0 },
  cluster: { apiOnly: process.env.TEST_API_ONLY === '1', heartbeatMs: 250, hostTimeoutMs: 3_000 },
});
process.stderr.write(`listening on ${server.url}\n`);
process.once('SIGTERM', () => {
  void server.close().finally(() => process.exit(0));
});
