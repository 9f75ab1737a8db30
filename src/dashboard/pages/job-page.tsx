import { useEffect, useRef } from 'preact/hooks';
import { useMags } from '../client-context.ts';
import type { AnsiSpan } from '../components/ansi-spans.ts';
import { AnsiSpansText } from '../components/ansi-text.tsx';
import { Breadcrumbs } from '../components/breadcrumbs.tsx';
import { ErrorView } from '../components/error-view.tsx';
import { Link } from '../components/link.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { useAction } from '../components/use-action.ts';
import { usePageTitle } from '../components/use-page-title.ts';
import { formatDurationBetween } from '../format/format-duration-ms.ts';
import { formatTime } from '../format/format-time.ts';
import { commandText } from '../jobs/command-text.ts';
import { useJobLog } from '../jobs/use-job-log.ts';
import { whereText } from '../jobs/where-text.ts';
import { useResource } from '../live/use-resource.ts';
import type { PageProps } from '../routes.ts';
import { RowPages } from '../ticket/row-pages.tsx';

const renderBlock = (spans: AnsiSpan[], index: number) => (
  <AnsiSpansText key={index} spans={spans} />
);

/**
 * One job: what it runs and where, its output live (ANSI colours rendered, following the end
 * unless the reader scrolled up), and its final status the moment its log stream ends.
 */
export default function JobPage(props: PageProps) {
  const id = props.params[0] ?? '';
  usePageTitle(`Job ${id}`);
  const mags = useMags();
  const loaded = useResource(() => mags.jobs.get(id), [id]);
  const log = useJobLog(mags, id);
  const job = log.ended ?? loaded.data;
  const stop = useAction();

  const output = useRef<HTMLPreElement>(null);
  const following = useRef(true);
  useEffect(() => {
    const element = output.current;
    if (element && following.current) element.scrollTop = element.scrollHeight;
  }, [log.output.version]);

  if (loaded.error) {
    return (
      <section>
        <Breadcrumbs trail={[{ title: 'Jobs', href: '/jobs' }]} current={id} />
        <h1>Job {id}</h1>
        <ErrorView error={loaded.error} />
      </section>
    );
  }
  if (!job) return <p class="loading">Loading job {id}…</p>;
  const running = job.status === 'queued' || job.status === 'running';
  const shown = log.output;
  return (
    <section class="job-page">
      <Breadcrumbs trail={[{ title: 'Jobs', href: '/jobs' }]} current={id} />
      <div class="page-heading">
        <h1>Job {job.id}</h1>
        <span role="status" class="job-status">
          <StatusBadge status={job.status} />
          {job.status === 'queued' || job.status === 'running'
            ? null
            : ` ${job.message ?? job.reason ?? (job.exitCode === null ? '' : `exit code ${job.exitCode}`)}`}
        </span>
        {running ? (
          <button
            type="button"
            class="danger"
            disabled={stop.busy}
            onClick={() =>
              stop.run(async () => {
                await mags.jobs.stop(job.id);
              })
            }
          >
            {stop.busy ? 'Stopping…' : 'Stop'}
          </button>
        ) : null}
      </div>
      {stop.error !== undefined ? <ErrorView error={stop.error} title="Not stopped" /> : null}
      <dl class="facts">
        <dt>Command</dt>
        <dd>
          <code>{commandText(job.command)}</code>
        </dd>
        <dt>Where</dt>
        <dd>
          {job.sandbox ? (
            <Link href={`/sandboxes/${encodeURIComponent(job.sandbox)}`}>{whereText(job)}</Link>
          ) : (
            whereText(job)
          )}
        </dd>
        <dt>Runtime</dt>
        <dd>{job.runtime}</dd>
        <dt>Created</dt>
        <dd>{formatTime(job.createdAt)}</dd>
        <dt>Duration</dt>
        <dd>{running ? 'running…' : formatDurationBetween(job.startedAt, job.finishedAt)}</dd>
        <dt>Exit code</dt>
        <dd>{job.exitCode ?? job.signal ?? '—'}</dd>
      </dl>
      <section aria-labelledby="job-output-heading">
        <h2 id="job-output-heading">Output</h2>
        {log.error ? <ErrorView error={log.error} title="The log stream failed" /> : null}
        {job.logsRemovedAt ? (
          <p class="muted">
            The output was removed {formatTime(job.logsRemovedAt)}
            {job.logsRemovedReason ? ` (${job.logsRemovedReason})` : ''}.
          </p>
        ) : null}
        <pre
          class="output-box job-log"
          ref={output}
          // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling box must be reachable by keyboard to be scrolled (axe: scrollable-region-focusable)
          tabIndex={0}
          onScroll={(event) => {
            const element = event.currentTarget;
            // Following the end until the reader scrolls up; back at the end, following again.
            following.current =
              element.scrollHeight - element.scrollTop - element.clientHeight < 24;
          }}
        >
          {shown.first > 0 ? (
            <span class="muted">
              Earlier output trimmed — full log: <code>mags logs {job.id}</code>
              {'\n'}
            </span>
          ) : null}
          <RowPages
            rows={shown.blocks}
            first={shown.first}
            version={shown.version}
            render={renderBlock}
          />
          <AnsiSpansText spans={shown.openLine} />
          {!shown.any && !running ? <span class="muted">No output.</span> : null}
        </pre>
      </section>
    </section>
  );
}
