import type { Evidence } from '../../api/tickets.ts';
import { AnsiText } from '../components/ansi-text.tsx';
import { formatDurationMs } from '../format/format-duration-ms.ts';

/** The project's test command as the platform ran it: counts, exit code, and the whole log. */
export function TestResults(props: { tests: Evidence['tests'] }) {
  const { tests } = props;
  if (!tests) {
    return (
      <p class="muted">The project has no test command: only the criteria's checks were run.</p>
    );
  }
  const failed = tests.exitCode !== 0 || tests.timedOut;
  return (
    <div class="test-results">
      <p>
        <code>{tests.command}</code>{' '}
        <span class={failed ? 'verdict-bad' : 'verdict-ok'}>
          {tests.timedOut ? 'timed out' : `exit ${tests.exitCode ?? '—'}`}
        </span>
        <span class="muted"> · {formatDurationMs(tests.durationMs)}</span>
      </p>
      {tests.counts ? (
        <ul class="test-counts" aria-label="Test counts">
          <li class="count-passed">{tests.counts.passed} passed</li>
          <li class={tests.counts.failed > 0 ? 'count-failed' : undefined}>
            {tests.counts.failed} failed
          </li>
          <li>{tests.counts.skipped} skipped</li>
          <li class="muted">({tests.counts.format})</li>
        </ul>
      ) : (
        <p class="muted">No counts could be read from the log.</p>
      )}
      <details open={failed}>
        <summary>Test log</summary>
        {tests.log === '' ? (
          <p class="muted">No output.</p>
        ) : (
          <pre class="output-box">
            <AnsiText text={tests.log} />
          </pre>
        )}
      </details>
    </div>
  );
}
