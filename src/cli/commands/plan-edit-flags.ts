import type { Command } from 'commander';
import type { Criterion } from '../../api/tickets.ts';
import { CommandUsageError } from '../client/command-usage-error.ts';

export interface CriterionEdit {
  key: string;
  criterion: Criterion;
}

/** `mags plan edit`'s options that take the next word as their value (it is not an option). */
const valueOptions = new Set(['--file', '--remove', '--check']);

/**
 * `--criterion KEY TEXT [--check CMD]`, each in the order given. Read from the command line as
 * typed: commander hands a variadic option's words one at a time with no sign of where one
 * `--criterion` ends and the next starts, nor which `--criterion` a `--check` follows. Each
 * --criterion takes exactly two words, and at most one --check; anything else is a usage error.
 * Nothing is kept between parses (a program parsed twice starts afresh).
 */
export function criterionEditsOf(command: Command): CriterionEdit[] {
  const words = commandLineOf(command);
  const edits: Array<{ words: string[]; check?: string }> = [];
  for (let index = 0; index < words.length; index++) {
    const word = words[index] as string;
    if (word === '--') break;
    const [flag, inline] = word.startsWith('--') ? splitInline(word) : [word, undefined];
    if (flag === '--criterion') {
      const edit: { words: string[]; check?: string } = {
        words: inline === undefined ? [] : [inline],
      };
      // Commander's rule for a variadic option: its values run up to the next word that looks
      // like an option.
      while (index + 1 < words.length && !looksLikeOption(words[index + 1] as string)) {
        edit.words.push(words[++index] as string);
      }
      edits.push(edit);
    } else if (flag === '--check') {
      const check = inline ?? words[++index];
      if (check === undefined) continue; // commander reports the missing value
      const last = edits.at(-1);
      if (!last) {
        throw new CommandUsageError(
          `--check ${JSON.stringify(check)} comes before its --criterion KEY TEXT.`,
          {
            hint: 'Each --check belongs to the --criterion before it: --criterion KEY TEXT --check CMD.',
          },
        );
      }
      if (last.check !== undefined) {
        throw new CommandUsageError(
          `A second --check ${JSON.stringify(check)} for one --criterion (it has ${JSON.stringify(last.check)}).`,
          {
            hint: 'A criterion has one check: combine them, e.g. --check "npm test && npm run lint".',
          },
        );
      }
      last.check = check;
    } else if (valueOptions.has(flag) && inline === undefined) {
      index++;
    }
  }
  return edits.map(({ words: given, check }) => {
    if (given.length !== 2) {
      throw new CommandUsageError(
        `--criterion takes a ticket key and the criterion’s text (got ${given.length} word${given.length === 1 ? '' : 's'}: ${given.map((each) => JSON.stringify(each)).join(' ')}).`,
        {
          hint: 'For example: --criterion api "GET /users answers 200" --check "npm test" (quote the text).',
        },
      );
    }
    const [key, text] = given as [string, string];
    return { key, criterion: { text, ...(check !== undefined && { check }) } };
  });
}

const looksLikeOption = (word: string) => word.length > 1 && word.startsWith('-');

function splitInline(word: string): [string, string | undefined] {
  const equals = word.indexOf('=');
  return equals < 0 ? [word, undefined] : [word.slice(0, equals), word.slice(equals + 1)];
}

/**
 * The words after `edit` as typed. Commander keeps them on the root program (`rawArgs`, set by
 * each parse) but does not declare the field in its types.
 */
function commandLineOf(command: Command): string[] {
  let root = command;
  while (root.parent) root = root.parent;
  const raw = (root as unknown as { rawArgs?: string[] }).rawArgs ?? [];
  const parentAt = command.parent ? raw.indexOf(command.parent.name()) : -1;
  const start = raw.indexOf(command.name(), parentAt + 1);
  return start < 0 ? [] : raw.slice(start + 1);
}
