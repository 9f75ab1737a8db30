import assert from 'node:assert/strict';
import test from 'node:test';
import { MagsError } from '../errors/mags-error.ts';
import { formatFieldPath, parsePlanFile, renderPlanFile } from './plan-file.ts';
import { type PlanSpec, PlanSpecSchema } from './plans.ts';

// As the schema leaves it (text trimmed, dependsOn filled in): what a stored plan holds.
const spec: PlanSpec = PlanSpecSchema.parse({
  summary: 'Add a --dark flag: the option, its styles, and a test.',
  tickets: [
    {
      key: 'cli-flag',
      title: 'Parse --dark',
      request: 'Add a --dark option to the CLI.\n\nIt sets `theme` to "dark".\n  indented: line\n',
      criteria: [
        { text: 'npm test passes', check: 'npm test' },
        { text: 'The help mentions --dark' },
      ],
    },
    {
      key: 'styles',
      title: 'Dark styles: colours # and more',
      role: 'developer',
      model: 'anthropic:claude-sonnet-4-5',
      budget: { maxSteps: 40, maxCostUsd: 1.5 },
      request: 'one line with: a colon and a # hash',
      criteria: [{ text: 'dark.css exists', check: "test -f dark.css && grep -q 'body' dark.css" }],
      dependsOn: ['cli-flag'],
    },
  ],
});

function invalid(text: string): MagsError {
  try {
    parsePlanFile(text, 'plan.yaml');
  } catch (error) {
    assert.ok(error instanceof MagsError, String(error));
    assert.equal(error.code, 'invalid_plan_file');
    assert.equal(error.statusCode, 400);
    return error;
  }
  assert.fail('the plan file was accepted');
}

test('a plan renders to YAML and parses back to the same spec, and renders the same again', () => {
  const text = renderPlanFile(spec);
  const parsed = parsePlanFile(text);
  assert.deepEqual(parsed, spec);
  assert.equal(renderPlanFile(parsed), text);
  // Multi-line requests are literal blocks a person can edit; empty dependsOn is left out.
  assert.match(text, /request: \|/);
  assert.doesNotMatch(text.split('- key: styles')[0] ?? '', /dependsOn/);
  assert.match(text, /dependsOn:\n\s+- cli-flag/);
});

test('a header becomes comments at the top and does not change what parses', () => {
  const text = renderPlanFile(spec, { header: 'Edit the plan, save and close.\n\nLines: fine' });
  assert.match(text, /^# Edit the plan, save and close\.\n\n# Lines: fine\n/);
  assert.deepEqual(parsePlanFile(text), spec);
});

test('a hand-written file: dependsOn defaults to none, text is trimmed', () => {
  const parsed = parsePlanFile(
    [
      'summary: one ticket',
      'tickets:',
      '  - key: only',
      '    title: "  Do it  "',
      '    request: do the thing',
      '    criteria:',
      '      - text: tests pass',
      '        check: npm test',
    ].join('\n'),
  );
  assert.deepEqual(parsed.tickets[0]?.dependsOn, []);
  assert.equal(parsed.tickets[0]?.title, 'Do it');
});

test('a wrong field is named by its path and line', () => {
  const text = renderPlanFile(spec).replace(
    "check: test -f dark.css && grep -q 'body' dark.css",
    'check: ""',
  );
  const error = invalid(text);
  const line = text.split('\n').findIndex((each) => each.includes('check: ""')) + 1;
  assert.match(
    error.message,
    new RegExp(`^plan\\.yaml, line ${line}: tickets\\[1\\]\\.criteria\\[0\\]\\.check: `),
  );
  assert.ok(error.hint?.includes('dependsOn'));
});

test('missing, unknown and badly formed fields are each named', () => {
  assert.match(invalid('tickets: []').message, /: summary: /);
  assert.match(
    invalid('summary: s\ntickets: []').message,
    /line 2: tickets: a plan needs at least one ticket/,
  );
  const oneTicket = (extra: string) =>
    `summary: s\ntickets:\n  - key: a\n    title: t\n    request: r\n    criteria: [{ text: c }]\n${extra}`;
  assert.match(
    invalid(oneTicket('    depends: [b]\n')).message,
    /tickets\[0\]: unknown field depends/,
  );
  assert.match(
    invalid(oneTicket('    dependsOn: [Not_A_Key]\n')).message,
    /line 7: tickets\[0\]\.dependsOn\[0\]: a ticket key is/,
  );
  assert.match(
    invalid('summary: s\ntickets:\n  - key: a\n    title: t\n    request: r\n    criteria: []\n')
      .message,
    /line 6: tickets\[0\]\.criteria: a ticket needs at least one criterion/,
  );
  assert.match(invalid('- just\n- a list\n').message, /\(the plan\): /);
});

test('broken YAML names its line and column', () => {
  const error = invalid('summary: s\ntickets:\n  - key: a\n   title: [unclosed\n');
  // Each YAML error (here two: the bad indent, then the unclosed list) with its position.
  assert.match(
    error.message,
    /^plan\.yaml has 2 problems:\n {2}line 4, column 1: not valid YAML: .+\n {2}line 5, column 1: not valid YAML: /,
  );
  const tabs = invalid('summary: s\ntickets:\n\t- key: a\n');
  assert.match(tabs.message, /line 3, column 1: not valid YAML/);
});

test('field paths read as a person writes them', () => {
  assert.equal(
    formatFieldPath(['tickets', 2, 'criteria', 0, 'check']),
    'tickets[2].criteria[0].check',
  );
  assert.equal(formatFieldPath([]), '(the plan)');
});

test('every problem is listed, each with its line and path, up to ten', () => {
  const text = [
    'tickets:',
    '  - key: Bad Key',
    '    title: ""',
    '    request: r',
    '    criteria: []',
    '  - key: b',
    '    title: t',
    '    request: r',
    '    criteria: [{ text: c, check: "" }]',
    '    depends: [a]',
  ].join('\n');
  const error = invalid(text);
  const lines = error.message.split('\n');
  assert.match(lines[0] ?? '', /^plan\.yaml has \d+ problems:$/);
  const listed = lines.slice(1).map((line) => line.trim());
  assert.equal(listed.length, Number(/has (\d+) problems/.exec(lines[0] ?? '')?.[1]));
  for (const [pattern, description] of [
    [/^line 1: summary: /, 'the missing summary'],
    [/^line 2: tickets\[0\]\.key: a ticket key is/, 'the bad key'],
    [/^line 3: tickets\[0\]\.title: /, 'the empty title'],
    [/^line 5: tickets\[0\]\.criteria: a ticket needs at least one criterion/, 'no criteria'],
    [/^line 9: tickets\[1\]\.criteria\[0\]\.check: /, 'the empty check'],
    [
      /^line 10: tickets\[1\]: unknown field depends \(did you mean dependsOn\?\)/,
      'the unknown field, at its own line',
    ],
  ] as const) {
    assert.ok(
      listed.some((line) => pattern.test(line)),
      `${description} is not listed:\n${error.message}`,
    );
  }

  const many = `summary: s\ntickets:\n${Array.from(
    { length: 12 },
    (_, index) => `  - key: k${index}\n    title: t\n    request: r\n    criteria: []\n`,
  ).join('')}`;
  const capped = invalid(many).message.split('\n');
  assert.equal(capped[0], 'plan.yaml has 12 problems:');
  assert.equal(capped.length, 1 + 10 + 1);
  assert.equal(capped.at(-1), '  (and 2 more)');
});

test('a misspelt field: its own line and the known one it is close to; dependsOn must be a list', () => {
  const oneTicket = (extra: string) =>
    `summary: s\ntickets:\n  - key: a\n    title: t\n    request: r\n    criteria: [{ text: c }]\n${extra}`;
  assert.match(
    invalid(oneTicket('    critera: [{ text: d }]\n')).message,
    /line 7: tickets\[0\]: unknown field critera \(did you mean criteria\?\)/,
  );
  assert.match(
    invalid(oneTicket('    depends_on: [b]\n')).message,
    /line 7: tickets\[0\]: unknown field depends_on \(did you mean dependsOn\?\)/,
  );
  assert.match(
    invalid(oneTicket('    flavour: x\n')).message,
    /unknown field flavour$/m,
    'no guess for a field close to none',
  );
  assert.match(
    invalid(oneTicket('    dependsOn: b\n')).message,
    /line 7: tickets\[0\]\.dependsOn: a list of keys, e\.g\. \[schema\]/,
  );
});
