/**
 * A `mags server` process in a cluster on a shared state, for tests and benchmarks: what `mags
 * server --state STATE --host-id ID [--api-only]` starts, with the cluster's timings shortened.
 * The CLI's cluster flags take a postgres:// state only; a SQLite file shared by processes on
 * one machine is enough, and lighter, for what forwarding looks at (its notifications reach only
 * their own process: a job on another host is followed by polling). Environment: MAGS_HOME,
 * TEST_STATE (a file or a postgres:// URL), TEST_HOST_ID, TEST_API_ONLY=1, TEST_URL_DOMAIN. Prints `listening on
 * URL`; SIGTERM stops its sandboxes and exits.
 */
import { resolveMagsHome } from '../../src/config/mags-home.ts';
import { startServer } from '../../src/server/start-server.ts';
import { openStateRepository } from '../../src/state/open-state-repository.ts';

const server = await startServer({
  port: 0,
  repository: await openStateRepository(process.env.TEST_STATE, resolveMagsHome()),
  hostId: process.env.TEST_HOST_ID,
  scheduling: { poolSize: 0 },
  ...(process.env.TEST_URL_DOMAIN ? { urlDomain: process.env.TEST_URL_DOMAIN } : {}),
  cluster: { apiOnly: process.env.TEST_API_ONLY === '1', heartbeatMs: 250, hostTimeoutMs: 3_000 },
});
process.stderr.write(`listening on ${server.url}\n`);
process.once('SIGTERM', () => {
  void server.close().finally(() => process.exit(0));
});
