import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MagsError } from '../../errors/mags-error.ts';

/** What the user saved, in a file kept until the caller is done with it (`remove`). */
export interface EditedFile {
  text: string;
  /** Where it is kept: a failed apply tells the user, who retries from it (`--file PATH`). */
  path: string;
  remove(): Promise<void>;
}

/**
 * Opens `text` in the user's editor as `git commit` does ($VISUAL, then $EDITOR, then vi; run by
 * the shell, so `EDITOR="code --wait"` works) and returns what was saved, in its file. The file
 * stays until `remove` (the caller removes it once the edit is applied, so a refused edit loses
 * nothing). An editor that exits non-zero aborts the edit (the file is kept, its path in the error).
 * While the editor runs, mags ignores SIGINT and SIGQUIT as git does: they go to the editor (a
 * Ctrl-C in vi), not to the process waiting for it.
 */
export async function editInEditor(
  text: string,
  options: { name: string; environment?: NodeJS.ProcessEnv; interactive?: boolean },
): Promise<EditedFile> {
  const environment = options.environment ?? process.env;
  const editor = chooseEditor(environment, options.interactive);
  const directory = await mkdtemp(join(tmpdir(), 'mags-edit-'));
  const path = join(directory, options.name);
  const remove = () => rm(directory, { recursive: true, force: true });
  const ignore = () => {};
  process.on('SIGINT', ignore);
  process.on('SIGQUIT', ignore);
  let code: number | null;
  try {
    await writeFile(path, text);
    code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn('/bin/sh', ['-c', `${editor} "$@"`, editor, path], {
        stdio: 'inherit',
        env: environment,
      });
      child.once('error', reject);
      child.once('exit', (exitCode) => resolve(exitCode));
    });
  } catch (error) {
    await remove();
    throw error;
  } finally {
    process.off('SIGINT', ignore);
    process.off('SIGQUIT', ignore);
  }
  if (code !== 0) {
    throw new EditorFailedError(
      `The editor (${editor}) exited ${code ?? 'on a signal'}: nothing changed; what it saved is kept in ${path}.`,
      {
        path,
        hint: 'Set VISUAL or EDITOR to an editor that exits 0 when the file is saved, or use --file.',
      },
    );
  }
  return { text: await readFile(path, 'utf8'), path, remove };
}

/**
 * $VISUAL, then $EDITOR, then vi: but vi with no terminal to draw on hangs or garbles a script's
 * output, so without one only a chosen editor is used (one that needs no terminal, a script).
 */
export function chooseEditor(
  environment: NodeJS.ProcessEnv = process.env,
  interactive: boolean = process.stdin.isTTY === true,
): string {
  const chosen = environment.VISUAL || environment.EDITOR;
  if (chosen) return chosen;
  if (!interactive) {
    throw new MagsError('No editor: VISUAL and EDITOR are not set and stdin is not a terminal.', {
      code: 'editor_missing',
      hint: 'Set EDITOR (e.g. EDITOR=nano), or use --file plan.yaml.',
    });
  }
  return 'vi';
}

/** The editor exited non-zero (exit code 1: the command line was fine). */
export class EditorFailedError extends MagsError {
  /** The file the editor had, kept. */
  readonly path: string;

  constructor(message: string, options: { path: string; hint: string }) {
    super(message, { code: 'editor_failed', hint: options.hint });
    this.path = options.path;
  }
}
