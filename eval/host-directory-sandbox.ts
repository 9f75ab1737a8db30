/**
 * An AgentSandbox over a directory of this host, for checking the fixtures themselves (their
 * hidden tests fail before the known fix and pass after it) without a sandbox. Never given to an
 * agent: agents get the ticket's sandbox.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { AgentCommandResult, AgentSandbox } from '../src/agents/agent-sandbox.ts';

export function hostDirectorySandbox(root: string): AgentSandbox {
  return {
    exec(command, options) {
      return new Promise<AgentCommandResult>((done, fail) => {
        const startedAt = performance.now();
        const child = spawn('/bin/sh', ['-c', command], {
          cwd: options.cwd ?? root,
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
          env: commandEnvironment(),
        });
        const chunks: Buffer[] = [];
        child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
        child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          // The whole process group: a test runner's children too.
          process.kill(-(child.pid as number), 'SIGKILL');
        }, options.timeoutMs);
        child.once('error', (error) => {
          clearTimeout(timer);
          fail(error);
        });
        child.once('close', (code) => {
          clearTimeout(timer);
          const output = Buffer.concat(chunks);
          done({
            exitCode: code,
            output: output.toString('utf8'),
            outputBytes: output.length,
            durationMs: performance.now() - startedAt,
            timedOut,
          });
        });
      });
    },
    readFile: (path) => readFile(resolve(root, path)),
    async writeFile(path, data) {
      const target = resolve(root, path);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, data);
    },
  };
}

/**
 * This process's environment without node:test's own marker: a `node --test` run under a test
 * file would otherwise think it is nested and skip its files.
 */
function commandEnvironment(): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _, ...environment } = process.env;
  return environment;
}
