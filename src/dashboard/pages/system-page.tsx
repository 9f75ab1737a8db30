import type { PoolSample } from '../../api/pool-events.ts';
import { ErrorView } from '../components/error-view.tsx';
import { usePageTitle } from '../components/use-page-title.ts';
import type { PageProps } from '../routes.ts';
import { type ChartPoint, LineChart } from '../system/line-chart.tsx';
import { HostFigures, OwnerFigures } from '../system/pool-figures.tsx';
import { chartWindowMs, usePoolSamples } from '../system/use-pool-samples.ts';

const series = (samples: PoolSample[], pick: (sample: PoolSample) => number): ChartPoint[] =>
  samples.map((sample) => ({ atMs: Date.parse(sample.at), value: pick(sample) }));

/** Pool, warm cache and sleeping sandboxes, live from the server's stream, with charts. */
export default function SystemPage(_props: PageProps) {
  usePageTitle('System');
  const { samples, error } = usePoolSamples();
  const latest = samples.at(-1);
  const host = latest?.host;
  return (
    <section class="system">
      <h1>System</h1>
      {error ? <ErrorView error={error} title="The live figures stopped" /> : null}
      {!latest && !error ? <p class="loading">Connecting…</p> : null}
      {latest ? (
        <>
          <div class="system-figures">
            <OwnerFigures owner={latest.owner} />
            {host ? <HostFigures host={host} /> : null}
          </div>
          {host ? null : (
            <p class="hint">
              The host's pool, warm cache and counters are shown to an admin token only.
            </p>
          )}
          <h2>Over the last {chartWindowMs / 60_000} minutes</h2>
          <div class="charts">
            <LineChart
              title="Jobs running"
              windowMs={chartWindowMs}
              points={series(
                samples,
                (sample) => sample.host?.jobs.running ?? sample.owner.jobs.running,
              )}
            />
            <LineChart
              title="Sandboxes running"
              windowMs={chartWindowMs}
              points={series(
                samples,
                (sample) => sample.host?.busy ?? sample.owner.sandboxes.running,
              )}
            />
            <LineChart
              title="Sandboxes parked"
              windowMs={chartWindowMs}
              points={series(samples, (sample) => sample.host?.warm.parked ?? sample.owner.parked)}
            />
            {host ? (
              <LineChart
                title="Pool idle"
                windowMs={chartWindowMs}
                points={series(samples, (sample) => sample.host?.pool.idle ?? 0)}
              />
            ) : null}
          </div>
        </>
      ) : null}
    </section>
  );
}
