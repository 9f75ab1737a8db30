import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command } from 'commander';
import { InvalidInputError } from '../errors/mags-error.ts';
import { type CriterionEdit, criterionEditsOf } from './commands/plan-edit-flags.ts';

/** `mags plan edit` as commander parses it: the edits its action reads, or the usage error. */
async function editsOf(program: Command, args: string[]): Promise<CriterionEdit[]> {
  program.exitOverride();
  await program.parseAsync(['node', 'mags', ...args]);
  return (program as unknown as { lastEdits: CriterionEdit[] }).lastEdits;
}

function newProgram(): Command {
  const program = new Command('mags');
  const plan = program.command('plan');
  plan
    .command('edit')
    .argument('<id>')
    .option('--file <path>')
    .option('--remove <key>')
    .option('--criterion <key-and-text...>')
    .option('--check <command>')
    .action((_id: string, _flags, command: Command) => {
      (program as unknown as { lastEdits: CriterionEdit[] }).lastEdits = criterionEditsOf(command);
    });
  return program;
}

test('each --criterion takes KEY TEXT and the --check after it, in order', async () => {
  const program = newProgram();
  assert.deepEqual(
    await editsOf(program, [
      'plan',
      'edit',
      'pln_1',
      '--criterion',
      'api',
      'answers 200',
      '--check',
      'npm test',
      '--remove',
      'edit',
      '--criterion',
      'ui',
      'shows it',
    ]),
    [
      { key: 'api', criterion: { text: 'answers 200', check: 'npm test' } },
      { key: 'ui', criterion: { text: 'shows it' } },
    ],
  );
  // The same program parsed again starts afresh: nothing of the first parse is left.
  assert.deepEqual(await editsOf(program, ['plan', 'edit', 'pln_1', '--criterion', 'a', 'b']), [
    { key: 'a', criterion: { text: 'b' } },
  ]);
  assert.deepEqual(await editsOf(program, ['plan', 'edit', 'pln_1']), []);
});

test('three words, one word, a second --check, or a --check first are usage errors', async () => {
  const cases: Array<[string[], RegExp]> = [
    [
      ['--criterion', 'api', 'answers', '200'],
      /takes a ticket key and the criterion’s text \(got 3/,
    ],
    [['--criterion', 'api', '--check', 'true'], /\(got 1 word: "api"\)/],
    [
      ['--criterion', 'api', 'ok', '--check', 'a', '--check', 'b'],
      /A second --check "b" for one --criterion \(it has "a"\)/,
    ],
    [
      ['--check', 'true', '--criterion', 'api', 'ok'],
      /--check "true" comes before its --criterion/,
    ],
  ];
  for (const [args, message] of cases) {
    await assert.rejects(
      editsOf(newProgram(), ['plan', 'edit', 'pln_1', ...args]),
      (error: unknown) => error instanceof InvalidInputError && message.test(error.message),
      args.join(' '),
    );
  }
});
