import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidInputError } from '../../errors/mags-error.ts';

/**
 * Opens `text` in the user's editor as `git commit` does ($VISUAL, then $EDITOR, then vi; run by
 * the shell, so `EDITOR="code --wait"` works) and returns what was saved. An editor that exits
 * non-zero aborts the edit.
 */
export async function editInEditor(
  text: string,
  options: { name: string; environment?: NodeJS.ProcessEnv },
): Promise<string> {
  const environment = options.environment ?? process.env;
  const editor = environment.VISUAL || environment.EDITOR || 'vi';
  const directory = await mkdtemp(join(tmpdir(), 'mags-edit-'));
  const path = join(directory, options.name);
  try {
    await writeFile(path, text);
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn('/bin/sh', ['-c', `${editor} "$@"`, editor, path], {
        stdio: 'inherit',
        env: environment,
      });
      child.once('error', reject);
      child.once('exit', (exitCode) => resolve(exitCode));
    });
    if (code !== 0) {
      throw new InvalidInputError(
        `The editor (${editor}) exited ${code ?? 'on a signal'}: nothing changed.`,
        {
          hint: 'Set VISUAL or EDITOR to an editor that exits 0 when the file is saved, or use --file.',
        },
      );
    }
    return await readFile(path, 'utf8');
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}
