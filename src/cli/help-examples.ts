import type { Command } from 'commander';

/** An "Examples:" section after a command's help (commander's addHelpText). */
export function withExamples(command: Command, examples: string[]): Command {
  return command.addHelpText(
    'after',
    `\nExamples:\n${examples.map((line) => `  $ ${line}`).join('\n')}\n`,
  );
}
