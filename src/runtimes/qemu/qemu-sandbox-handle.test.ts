/**
 * The guest cgroup's figures as `cat procs events current peak` prints them (native/vm-init.c's
 * cgroup, Linux 6.1's memory.events), and what is left of them when a file could not be read.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseGuestUsage } from '../guest-cgroup-usage.ts';

const events = ['low 0', 'high 0', 'max 3', 'oom 1', 'oom_kill 2', 'oom_group_kill 0'];

test('pids, events, current and peak: processes besides the agent and cat, kills and memory', () => {
  const text = ['1', '57', '58', ...events, '4194304', '9437184', ''].join('\n');
  assert.deepEqual(parseGuestUsage(text), {
    processes: 1,
    oomKills: 2,
    memoryBytes: 4194304,
    peakMemoryBytes: 9437184,
  });
});

test('an idle guest (the agent and the cat only) counts 0 processes', () => {
  const text = ['1', '40', ...events, '1048576', '2097152', ''].join('\n');
  assert.equal(parseGuestUsage(text).processes, 0);
});

test('without memory.events nothing tells pids from memory: processes and memory are undefined', () => {
  // cat printed the pids, then could not read events; current and peak follow.
  const text = ['1', '57', '58', '4194304', '9437184', ''].join('\n');
  assert.deepEqual(parseGuestUsage(text), {
    processes: undefined,
    oomKills: 0,
    memoryBytes: undefined,
    peakMemoryBytes: undefined,
  });
});

test('without memory.peak (before Linux 5.19) the peak is undefined and the rest stands', () => {
  const text = ['1', '40', ...events, '1048576', ''].join('\n');
  assert.deepEqual(parseGuestUsage(text), {
    processes: 0,
    oomKills: 2,
    memoryBytes: 1048576,
    peakMemoryBytes: undefined,
  });
});

test('empty output (cat never ran) has no figures', () => {
  assert.deepEqual(parseGuestUsage(''), {
    processes: undefined,
    oomKills: 0,
    memoryBytes: undefined,
    peakMemoryBytes: undefined,
  });
});
