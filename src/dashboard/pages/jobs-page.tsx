import type { Job } from '../../api/schemas.ts';
import type { JobChange } from '../../sdk/index.ts';
import { useMags } from '../client-context.ts';
import { ErrorView } from '../components/error-view.tsx';
import { Link } from '../components/link.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { usePageTitle } from '../components/use-page-title.ts';
import { formatDurationBetween } from '../format/format-duration-ms.ts';
import { formatTime } from '../format/format-time.ts';
import { commandText } from '../jobs/command-text.ts';
import { whereText } from '../jobs/where-text.ts';
import { upsert, useLiveList } from '../live/use-live-list.ts';
import type { PageProps } from '../routes.ts';

/**
 * The owner's jobs, newest first: status, command, where it ran, exit code, duration. Live: one
 * stream (`jobs.follow`: the newest 100, then each job as it is created, starts or finishes)
 * adds new jobs at the top and moves each one's status as it goes.
 */
export default function JobsPage(_props: PageProps) {
  usePageTitle('Jobs');
  const mags = useMags();
  const jobs = useLiveList(
    (signal) => mags.jobs.follow({ limit: 100, signal }),
    (items: Job[] | undefined, change: JobChange) =>
      change.type === 'jobs'
        ? change.jobs
        : upsert(
            items ?? [],
            change.job,
            (job) => job.id,
            (list, job) => [job, ...list],
          ),
    [mags],
  );
  const list = jobs.items;
  return (
    <section>
      <div class="page-heading">
        <h1>Jobs</h1>
      </div>
      {jobs.error ? <ErrorView error={jobs.error} /> : null}
      {list === undefined ? (
        jobs.error ? null : (
          <p class="loading">Loading jobs…</p>
        )
      ) : list.length === 0 ? (
        <p class="muted">
          No jobs yet. Run one with <code>mags run 'echo hello'</code>, or from a sandbox's terminal
          with <code>mags exec</code>.
        </p>
      ) : (
        <div class="table-scroll">
          <table class="job-list">
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Status</th>
                <th scope="col">Command</th>
                <th scope="col">Where</th>
                <th scope="col" class="numeric">
                  Exit
                </th>
                <th scope="col" class="numeric">
                  Duration
                </th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {list.map((job: Job) => (
                <tr key={job.id}>
                  <td>
                    <Link href={`/jobs/${encodeURIComponent(job.id)}`}>{job.id}</Link>
                  </td>
                  <td>
                    <StatusBadge status={job.status} />
                  </td>
                  <td>
                    <code class="job-command" title={commandText(job.command)}>
                      {commandText(job.command)}
                    </code>
                  </td>
                  <td>{whereText(job)}</td>
                  <td class="numeric">{job.exitCode ?? job.signal ?? '—'}</td>
                  <td class="numeric">{formatDurationBetween(job.startedAt, job.finishedAt)}</td>
                  <td>{formatTime(job.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
