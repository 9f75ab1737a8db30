import { spawn } from 'node:child_process';
import type { ConflictError } from '../errors/mags-error.ts';

export interface HeldLock {
  release(): Promise<void>;
}

/**
 * Takes the same flock(2) lock the sandbox launcher takes, from Node (which has no flock): a
 * util-linux `flock` process holds it until we close its stdin, and the kernel releases it if we
 * die, so a crash never leaves a workspace locked.
 */
export function acquireLock(
  path: string,
  mode: 'exclusive' | 'shared',
  busyMessage: () => ConflictError,
  options: { wait?: boolean } = {},
): Promise<HeldLock> {
  return new Promise((resolve, reject) => {
    const holder = spawn(
      'flock',
      [
        mode === 'exclusive' ? '--exclusive' : '--shared',
        // Waiting suits locks held for moments (a mount); a workspace's is held for a whole run.
        ...(options.wait ? [] : ['--nonblock']),
        '--conflict-exit-code',
        '75',
        path,
        '-c',
        'echo locked; exec cat >/dev/null',
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const exited = new Promise<void>((done) => holder.on('close', () => done()));
    holder.on('error', reject);
    holder.stdout.once('data', () =>
      resolve({
        release: async () => {
          holder.stdin.end();
          await exited;
        },
      }),
    );
    holder.on('exit', (code) => {
      if (code === 75) reject(busyMessage());
      else if (code !== 0) reject(new Error(`flock ${path} exited with ${code}`));
    });
  });
}
