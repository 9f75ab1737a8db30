/** The TSC rate a TCG guest is given: "cpu MHz" on a VM host only (fixture /proc/cpuinfo text). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tscKhzFromCpuinfo } from './host-tsc.ts';

/** The first processor of a /proc/cpuinfo, trimmed. */
function cpuinfo(megahertz: string, flags: string): string {
  return [
    'processor\t: 0',
    'vendor_id\t: GenuineIntel',
    'model name\t: Intel(R) Xeon(R) CPU @ 2.60GHz',
    `cpu MHz\t\t: ${megahertz}`,
    'cache size\t: 36608 KB',
    `flags\t\t: ${flags}`,
    'bogomips\t: 5192.28',
    '',
  ].join('\n');
}

test('on a VM host (flags include hypervisor) the rate is cpu MHz in kHz', () => {
  const text = cpuinfo('2596.140', 'fpu vme de pse tsc msr constant_tsc hypervisor lahf_lm');
  assert.equal(tscKhzFromCpuinfo(text), 2_596_140);
});

test('on bare metal cpu MHz is the current frequency, not the TSC rate: none is given', () => {
  const text = cpuinfo('800.000', 'fpu vme de pse tsc msr constant_tsc nonstop_tsc aperfmperf');
  assert.equal(tscKhzFromCpuinfo(text), undefined);
});

test('a flag that merely contains the word does not count', () => {
  assert.equal(tscKhzFromCpuinfo(cpuinfo('2600.000', 'fpu not_hypervisor tsc')), undefined);
});

test('no cpu MHz line, or no cpuinfo at all: none is given', () => {
  const text = cpuinfo('2600.000', 'fpu tsc hypervisor').replace(/^cpu MHz.*\n/m, '');
  assert.equal(tscKhzFromCpuinfo(text), undefined);
  assert.equal(tscKhzFromCpuinfo(''), undefined);
});
