/**
 * The evaluation's scripted models (eval/scripted) drive the real built-in agent loop in a real
 * namespace sandbox holding a fixture's repository: the oracle's fix grades FULL with the hidden
 * tests, the liar's untouched repository grades NO although it claims every criterion. (The
 * whole suite through a server, projects and tickets: test/eval-suite.test.ts.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadFixtures } from '../eval/fixture.ts';
import { gradeWithHiddenTests } from '../eval/grade.ts';
import { liarModel } from '../eval/scripted/liar-model.ts';
import { oracleModel } from '../eval/scripted/oracle-model.ts';
import { createBuiltinAgent } from '../src/agents/builtin/builtin-agent.ts';
import { agentTestSession, agentTestTask } from './helpers/agent-session.ts';
import { initWorkspaceRepository, startAgentTestSandbox } from './helpers/agent-test-sandbox.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
const fixtures = await loadFixtures();
const models = { oracle: oracleModel(fixtures), liar: liarModel(fixtures) };

for (const [name, model] of Object.entries(models)) {
  for (const fixture of fixtures) {
    test(`the ${name} on ${fixture.name} through the real agent loop`, { skip }, async (t) => {
      const box = await startAgentTestSandbox();
      t.after(() => box.cleanup());
      for (const file of fixture.repository) {
        const directory = `/workspace/${file.path}`.replace(/\/[^/]*$/, '');
        await box.sandbox.exec(`mkdir -p '${directory}'`, { timeoutMs: 10_000 });
        await box.sandbox.writeFile(`/workspace/${file.path}`, file.content);
      }
      // A ticket's workspace is a git repository: what the agent changes is reported from it.
      await initWorkspaceRepository(box.sandbox);
      const session = agentTestSession(box.sandbox);
      const agent = createBuiltinAgent({ resolveModel: () => model });
      const { ticket } = fixture;
      const outcome = await agent.run(
        agentTestTask({
          ticket: { id: 'tkt_eval', ...ticket },
          project: { name: fixture.name, test: 'node --test' },
        }),
        session,
      );
      assert.equal(outcome.reason, 'finished', outcome.message);
      assert.deepEqual(
        outcome.claims?.map((claim) => claim.met),
        ticket.criteria.map(() => true),
        'it claims every criterion',
      );
      const changed = session.events.flatMap((event) =>
        event.type === 'file_change' ? [event.path] : [],
      );
      const graded = await gradeWithHiddenTests(box.sandbox, fixture.hidden);
      if (name === 'oracle') {
        assert.deepEqual(
          changed,
          fixture.fix.map((file) => file.path),
        );
        assert.equal(graded.grade, 'FULL', graded.log);
      } else {
        assert.deepEqual(changed, []);
        assert.equal(graded.grade, 'NO', graded.log);
        assert.equal(graded.failToPass.passed, 0);
      }
    });
  }
}
