import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createSqliteStateRepository } from '../state/sqlite/sqlite-state-repository.ts';
import type { StateChannel, StateRepository } from '../state/state-repository.ts';
import { StateListeners } from './state-listeners.ts';

const directory = await mkdtemp(join(tmpdir(), 'mags-test-listeners-'));
after(() => rm(directory, { recursive: true, force: true }));

/** A real repository whose `listen` calls are counted (what the pooled connection costs). */
function counted(repository: StateRepository): { repository: StateRepository; listens: string[] } {
  const listens: string[] = [];
  const listen = repository.listen.bind(repository);
  return {
    listens,
    repository: Object.assign(Object.create(repository) as StateRepository, {
      listen: (channel: StateChannel, listener: (payload: string) => void) => {
        listens.push(channel);
        return listen(channel, listener);
      },
    }),
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

test('one listen per channel, payloads dispatched by their key (and to `*`)', async () => {
  const state = createSqliteStateRepository(join(directory, 'dispatch.db'));
  const { repository, listens } = counted(state);
  const listeners = new StateListeners(repository);
  try {
    const heard: string[] = [];
    const offA = await listeners.on('job_output', 'job_a', (payload) => heard.push(`a ${payload}`));
    await listeners.on('job_output', 'job_b', (payload) => heard.push(`b ${payload}`));
    await listeners.on('job_output', '*', (payload) => heard.push(`* ${payload}`));
    await listeners.on('job_changed', 'job_a', (payload) => heard.push(`changed ${payload}`));
    assert.deepEqual(listens, ['job_output', 'job_changed']);
    await state.notify('job_output', 'job_a:10');
    await state.notify('job_output', 'job_c:5');
    await state.notify('job_changed', 'job_a:alice');
    await settle();
    assert.deepEqual(heard, ['a job_a:10', '* job_a:10', '* job_c:5', 'changed job_a:alice']);
    offA();
    heard.length = 0;
    await state.notify('job_output', 'job_a:20');
    await settle();
    assert.deepEqual(heard, ['* job_a:20']);
  } finally {
    await listeners.close();
    await state.close();
  }
});

test('a watch keeps what came before its wait, times out when nothing comes, and ends on abort', async () => {
  const state = createSqliteStateRepository(join(directory, 'watch.db'));
  const listeners = new StateListeners(state);
  try {
    const watch = await listeners.watch(['job_output', 'job_changed'], 'job_a');
    // Told between a follower's read and its wait: the wait returns at once, not at its poll.
    await state.notify('job_changed', 'job_a:alice');
    await settle();
    let timer: NodeJS.Timeout | undefined;
    const first = await Promise.race([
      watch.wait(60_000).then(() => 'woken'),
      new Promise((resolve) => {
        timer = setTimeout(resolve, 30_000, 'still waiting');
      }),
    ]);
    clearTimeout(timer);
    assert.equal(first, 'woken');
    // Nothing for it (another job's output): the slow poll ends the wait all the same.
    await state.notify('job_output', 'job_b:3');
    await watch.wait(50);
    const aborted = new AbortController();
    const waiting = watch.wait(10_000, aborted.signal);
    aborted.abort();
    await waiting;
    // Woken while waiting.
    const woken = watch.wait(10_000);
    await state.notify('job_output', 'job_a:99');
    await woken;
    watch.close();
  } finally {
    await listeners.close();
    await state.close();
  }
});
