/**
 * Every `mags ...` command a hint tells the user to type must parse with the real command tree:
 * a hint naming an option or command that does not exist (`mags workspace pull NAME --force`)
 * sends the user from one error to another. The hints are found in the source (every `hint`
 * property or variable whose value is text), interpolations filled with placeholders, both sides
 * of a conditional tried; the commands are parsed with every action replaced, so nothing runs.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Command } from 'commander';
import ts from 'typescript';
import { createProgram } from './create-program.ts';

const sourceRoot = join(import.meta.dirname, '..');

/** Every text a hint can take, with `${...}` filled by NAME; undefined when it is not text. */
function texts(node: ts.Expression): string[] | undefined {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return [node.text];
  if (ts.isParenthesizedExpression(node)) return texts(node.expression);
  if (ts.isConditionalExpression(node)) {
    const [yes, no] = [texts(node.whenTrue), texts(node.whenFalse)];
    return yes && no ? [...yes, ...no] : undefined;
  }
  if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.PlusToken) {
    const [left, right] = [texts(node.left), texts(node.right)];
    return left && right ? left.flatMap((a) => right.map((b) => a + b)) : undefined;
  }
  if (ts.isTemplateExpression(node)) {
    let results = [node.head.text];
    for (const span of node.templateSpans) {
      const inner = texts(span.expression) ?? ['NAME'];
      results = results.flatMap((a) => inner.map((b) => a + b + span.literal.text));
    }
    return results;
  }
  return undefined;
}

async function findHints(): Promise<Array<{ where: string; text: string }>> {
  const hints: Array<{ where: string; text: string }> = [];
  const files = (await readdir(sourceRoot, { recursive: true })).filter(
    (file) => file.endsWith('.ts') && !file.endsWith('.test.ts'),
  );
  for (const file of files) {
    const path = join(sourceRoot, file);
    const source = ts.createSourceFile(path, await readFile(path, 'utf8'), ts.ScriptTarget.Latest);
    const visit = (node: ts.Node) => {
      const named =
        (ts.isPropertyAssignment(node) || ts.isVariableDeclaration(node)) &&
        node.name.getText(source) === 'hint' &&
        node.initializer;
      if (named) {
        const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
        for (const text of texts(named) ?? []) hints.push({ where: `src/${file}:${line}`, text });
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return hints;
}

/**
 * The command lines in a text: from `mags ` to the end of the command — a pair of spaces, a
 * bracket, a comma, a semicolon, a pipe or a full stop end it, and so does the first word a
 * command would not take (after its subcommands, options and declared arguments).
 */
function commandLines(text: string, program: Command): string[][] {
  const lines: string[][] = [];
  for (const match of text.matchAll(
    /(?:^|[\s(:])mags ([^|;,()]*?)(?: {2}|$|[|;,()]|\.(?:\s|$))/g,
  )) {
    const words = (match[1] ?? '').match(/'[^']*'|\S+/g) ?? [];
    const argv: string[] = [];
    let command = program;
    let arguments_ = 0;
    for (let index = 0; index < words.length; index++) {
      const word = words[index] as string;
      if (command.commands.length > 0) {
        const sub = command.commands.find((c) => c.name() === word || c.aliases().includes(word));
        if (sub) {
          argv.push(word);
          command = sub;
          continue;
        }
        // `mags server` runs itself and has `stop`: its options and arguments are read below.
        if (!runnable(command)) {
          argv.push(word);
          break; // an unknown command: the parse below reports it
        }
      }
      if (word.startsWith('-')) {
        argv.push(word);
        const flag = word.split('=')[0];
        const option = command.options.find((o) => o.short === flag || o.long === flag);
        if (option && (option.required || option.optional) && !word.includes('=')) {
          const value = words[++index];
          if (value !== undefined) argv.push(value);
        }
      } else {
        const declared = command.registeredArguments;
        const variadic = declared.at(-1)?.variadic ?? false;
        if (arguments_ >= declared.length && !variadic) break;
        argv.push(word.replace(/^'(.*)'$/, '$1'));
        arguments_++;
      }
    }
    lines.push(argv);
  }
  return lines;
}

/** Whether a command has an action of its own (commander keeps it private; a group has none). */
function runnable(command: Command): boolean {
  return Boolean((command as unknown as { _actionHandler?: unknown })._actionHandler);
}

/** Parses argv with the real tree, every action a no-op and every exit an exception. */
function parse(argv: string[]): void {
  const program = createProgram();
  const quiet = (command: Command) => {
    command.exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
    // Every action, a group's own too (`mags server` starts a server): nothing may run here.
    if (command.commands.length === 0 || runnable(command)) command.action(() => {});
    for (const sub of command.commands) quiet(sub);
  };
  quiet(program);
  program.parse(argv, { from: 'user' });
}

test('every mags command a hint names parses', async () => {
  const hints = await findHints();
  // Not vacuous: the scan finds the hints (about thirty today), the conflict hint among them.
  assert.ok(hints.length >= 25, `only ${hints.length} hints found`);
  const failures: string[] = [];
  const checked: string[] = [];
  for (const hint of hints) {
    for (const argv of commandLines(hint.text, createProgram())) {
      checked.push(argv.join(' '));
      try {
        parse(argv);
      } catch (error) {
        failures.push(`${hint.where}: mags ${argv.join(' ')}: ${(error as Error).message}`);
      }
    }
  }
  assert.ok(checked.includes('workspace pull NAME'), checked.join('\n'));
  assert.deepEqual(failures, []);
});

test('the extraction sees a wrong option, a wrong command and missing arguments', () => {
  const program = createProgram();
  const cases: Array<[string, RegExp]> = [
    ['Keep it: mags workspace pull NAME --force  (this discards local changes)', /unknown option/],
    ['Choose one (mags runtimes).', /unknown command/],
    ['mags token create makes one', /required option/],
    ['Pipe it in (mags token create ... | mags login --url URL)', /too many arguments|required/],
  ];
  for (const [text, error] of cases) {
    const [argv] = commandLines(text, program);
    assert.ok(argv, text);
    assert.throws(() => parse(argv), error, text);
  }
  assert.deepEqual(commandLines('Wait (mags logs -f ID) or stop it (mags stop ID).', program), [
    ['logs', '-f', 'ID'],
    ['stop', 'ID'],
  ]);
});
