import type { Evidence } from '../../api/tickets.ts';

/**
 * The agent's word beside the platform's: its summary and claims on one side, what the checks
 * and tests found on the other, and a warning when the agent says done but they disagree. A run
 * the agent did not finish (a budget, a stop, a provider's error) has no word of the agent's: its
 * message is the platform's account of the ending, and is shown as that.
 */
export function ClaimsVersusChecks(props: { evidence: Evidence }) {
  const { evidence } = props;
  const claimedMet = evidence.criteria.filter((criterion) => criterion.claim?.met).length;
  const met = evidence.criteria.filter((criterion) => criterion.status === 'met').length;
  const notMet = evidence.criteria.filter((criterion) => criterion.status === 'not_met').length;
  const needsPerson = evidence.criteria.length - met - notMet;
  const testsFailed =
    evidence.tests !== null && (evidence.tests.exitCode !== 0 || evidence.tests.timedOut);
  const claimedButFailed = evidence.criteria.filter(
    (criterion) => criterion.claim?.met && criterion.status === 'not_met',
  );
  const agentClaimsSuccess = evidence.agentEnd === 'finished' && claimedMet > 0;
  const contradicted = agentClaimsSuccess && (claimedButFailed.length > 0 || testsFailed);
  const agentFinished = evidence.agentEnd === 'finished';
  return (
    <>
      {contradicted ? (
        <div class="evidence-contradiction" role="alert">
          <strong>The agent claims success, but the platform's checks disagree:</strong>{' '}
          {claimedButFailed.length > 0
            ? `${claimedButFailed.length} criteria it claimed met are not met`
            : null}
          {claimedButFailed.length > 0 && testsFailed ? '; ' : null}
          {testsFailed ? 'the tests fail' : null}.
        </div>
      ) : null}
      <div class="evidence-compare">
        <section class="card" aria-labelledby="agent-claims">
          <h2 id="agent-claims">{agentFinished ? 'The agent says' : 'The agent did not finish'}</h2>
          {agentFinished ? (
            <p class="evidence-summary">{evidence.summary ?? evidence.agentMessage ?? '—'}</p>
          ) : (
            <>
              {evidence.summary ? <p class="evidence-summary">{evidence.summary}</p> : null}
              <p class="evidence-run-ended">
                <strong>The run ended:</strong> {evidence.agentMessage || '—'}
              </p>
            </>
          )}
          <p class="muted">
            Ended: {evidence.agentEnd.replaceAll('_', ' ')}
            {evidence.criteria.length > 0
              ? ` · claims ${claimedMet} of ${evidence.criteria.length} criteria met`
              : null}
          </p>
          {agentFinished &&
          evidence.summary &&
          evidence.agentMessage &&
          evidence.agentMessage !== evidence.summary ? (
            <p class="muted">{evidence.agentMessage}</p>
          ) : null}
        </section>
        <section class="card" aria-labelledby="platform-checks">
          <h2 id="platform-checks">The platform verified</h2>
          <ul class="evidence-verdicts">
            <li class={notMet > 0 ? 'verdict-bad' : met > 0 ? 'verdict-ok' : undefined}>
              {met} of {evidence.criteria.length} criteria met
              {notMet > 0 ? `, ${notMet} not met` : ''}
              {needsPerson > 0 ? `, ${needsPerson} need a person` : ''}
            </li>
            <li
              class={
                evidence.tests === null ? undefined : testsFailed ? 'verdict-bad' : 'verdict-ok'
              }
            >
              {evidence.tests === null
                ? 'No test command'
                : evidence.tests.timedOut
                  ? 'Tests timed out'
                  : testsFailed
                    ? `Tests failed (exit ${evidence.tests.exitCode})`
                    : 'Tests passed'}
            </li>
            <li>
              {evidence.diffStat.files.length === 0
                ? 'No files changed'
                : evidence.diffStat.files.length === 1
                  ? '1 file changed'
                  : `${evidence.diffStat.files.length} files changed`}
            </li>
          </ul>
        </section>
      </div>
    </>
  );
}
