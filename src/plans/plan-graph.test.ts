import assert from 'node:assert/strict';
import test from 'node:test';
import { checkPlanGraph, dependentsOf } from './plan-graph.ts';

const ticket = (key: string, dependsOn: string[] = []) => ({
  key,
  title: key,
  request: key,
  criteria: [{ text: 'done' }],
  dependsOn,
});

test('a diamond is ordered with every ticket after its dependencies', () => {
  const spec = {
    tickets: [ticket('d', ['b', 'c']), ticket('b', ['a']), ticket('c', ['a']), ticket('a')],
  };
  assert.deepEqual(checkPlanGraph(spec), ['a', 'b', 'c', 'd']);
  assert.deepEqual(dependentsOf(spec, 'b'), ['d']);
  assert.deepEqual(dependentsOf(spec, 'a'), ['d', 'b', 'c']);
});

test('cycles, unknown keys, self-dependencies and duplicate keys are refused by name', () => {
  assert.throws(
    () => checkPlanGraph({ tickets: [ticket('a', ['c']), ticket('b', ['a']), ticket('c', ['b'])] }),
    /cycle: a → c → b → a/,
  );
  assert.throws(
    () => checkPlanGraph({ tickets: [ticket('a', ['nope'])] }),
    /a depends on nope, which is not a ticket of the plan/,
  );
  assert.throws(() => checkPlanGraph({ tickets: [ticket('a', ['a'])] }), /a depends on itself/);
  assert.throws(
    () => checkPlanGraph({ tickets: [ticket('a'), ticket('a')] }),
    /Two tickets have the key a/,
  );
});
