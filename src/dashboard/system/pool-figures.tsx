import type { HostPoolStatusInfo, OwnerUsageInfo } from '../../api/schemas.ts';
import { formatBytes } from '../format/format-bytes.ts';

const ofLimit = (value: number, limit: number | null) =>
  limit === null ? String(value) : `${value} of ${limit}`;
const sum = (counts: Record<string, number>) =>
  Object.values(counts).reduce((total, count) => total + count, 0);

/** The token owner's own figures against its limits. */
export function OwnerFigures(props: { owner: OwnerUsageInfo }) {
  const { owner } = props;
  return (
    <section class="card" aria-labelledby="owner-figures">
      <h2 id="owner-figures">Yours ({owner.name})</h2>
      <dl class="facts">
        <dt>Jobs running</dt>
        <dd>{ofLimit(owner.jobs.running, owner.jobs.maxRunning)}</dd>
        <dt>Jobs queued</dt>
        <dd>{ofLimit(owner.jobs.queued, owner.jobs.maxQueued)}</dd>
        <dt>Sandboxes running</dt>
        <dd>{ofLimit(owner.sandboxes.running, owner.sandboxes.max)}</dd>
        <dt>Sandboxes sleeping</dt>
        <dd>{owner.sandboxes.sleeping}</dd>
        <dt>Parked (warm cache)</dt>
        <dd>{owner.parked}</dd>
      </dl>
    </section>
  );
}

/** The host's pool, warm cache and sleeping sandboxes (admin tokens only). */
export function HostFigures(props: { host: HostPoolStatusInfo }) {
  const { pool, warm, counters } = props.host;
  return (
    <section class="card" aria-labelledby="host-figures">
      <h2 id="host-figures">Host</h2>
      <dl class="facts">
        <dt>Pool</dt>
        <dd>
          {pool.idle} idle of {pool.size}, {pool.starting} starting ({pool.image})
        </dd>
        {pool.error ? (
          <>
            <dt>Pool error</dt>
            <dd class="bad">{pool.error}</dd>
          </>
        ) : null}
        <dt>Warm cache</dt>
        <dd>
          {warm.parked} parked of {warm.maxCount}, {formatBytes(warm.memoryBytes)} of{' '}
          {formatBytes(warm.maxMemoryBytes)}
        </dd>
        <dt>Sandboxes</dt>
        <dd>
          {props.host.busy} busy, {props.host.sleeping} sleeping, {props.host.total} in all
        </dd>
        <dt>Jobs</dt>
        <dd>
          {props.host.jobs.running} running of {props.host.jobs.maxConcurrent},{' '}
          {props.host.jobs.queued} queued
        </dd>
        <dt>Pool hits / misses</dt>
        <dd>
          {counters.poolHits} / {sum(counters.poolMisses)}
        </dd>
        <dt>Warm hits / misses</dt>
        <dd>
          {counters.warmHits} / {sum(counters.warmMisses)}
        </dd>
        <dt>Sleeps / wakes</dt>
        <dd>
          {counters.sleeps} / {counters.wakes}
        </dd>
      </dl>
    </section>
  );
}
