/**
 * The plan file's graph, checked by the CLI before anything is sent: a cycle, an unknown
 * dependency and a duplicate key are named with the file and the line of the ticket (or of the
 * dependency), the duplicate with its own hint.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MagsError } from '../../errors/mags-error.ts';
import { parsePlanFileChecked } from './plan-edits.ts';

const ticket = (key: string, dependsOn = '') =>
  `  - key: ${key}\n    title: t\n    request: r\n    criteria: [{ text: c }]\n${dependsOn ? `    dependsOn: [${dependsOn}]\n` : ''}`;

function refused(text: string): MagsError {
  try {
    parsePlanFileChecked(text, 'plan.yaml');
  } catch (error) {
    assert.ok(error instanceof MagsError, String(error));
    assert.equal(error.code, 'invalid_plan_file');
    return error;
  }
  assert.fail('the plan file was taken');
}

test('a good plan file parses; its graph is fine', () => {
  const spec = parsePlanFileChecked(`summary: s\ntickets:\n${ticket('a')}${ticket('b', 'a')}`, 'p');
  assert.deepEqual(
    spec.tickets.map((each) => each.dependsOn),
    [[], ['a']],
  );
});

test('an unknown dependency: the file, the line of the dependency, the keys there are', () => {
  const error = refused(`summary: s\ntickets:\n${ticket('a')}${ticket('b', 'a, c')}`);
  assert.match(
    error.message,
    /^plan\.yaml, line 11: tickets\[1\]\.dependsOn\[1\]: Ticket b depends on c, which is not a ticket of the plan \(its keys: a, b\)\.$/,
  );
  assert.match(error.hint ?? '', /depend only on other tickets/);
});

test('a cycle: the line of the ticket where it closes; a duplicate key: its own hint', () => {
  const cycle = refused(`summary: s\ntickets:\n${ticket('a', 'b')}${ticket('b', 'a')}`);
  assert.match(cycle.message, /^plan\.yaml, line 3: tickets\[0\]: .*cycle: a → b → a\.$/);
  const duplicate = refused(`summary: s\ntickets:\n${ticket('a')}${ticket('a')}`);
  assert.match(
    duplicate.message,
    /^plan\.yaml, line 7: tickets\[1\]\.key: Two tickets have the key a\.$/,
  );
  assert.match(duplicate.hint ?? '', /a key of its own/);
  assert.doesNotMatch(duplicate.hint ?? '', /depend only/);
});
