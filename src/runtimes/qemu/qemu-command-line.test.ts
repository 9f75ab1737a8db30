/** The QEMU command line for one sandbox, from its limits, network, accelerator and TSC rate. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { guestKernelMiB, type QemuMachine, qemuCommandLine } from './qemu-command-line.ts';

const machine: QemuMachine = {
  qemuPath: '/usr/bin/qemu-system-x86_64',
  accelerator: 'tcg',
  vmlinuxPath: '/vm/kernel/vmlinux',
  initramfsPath: '/vm/kernel/initramfs',
  limits: { memoryMiB: 256, cpus: 1.5, pidsMax: 64 },
  network: { egress: 'none' },
  hostname: 'box',
  tscKhz: 2_400_000,
  name: 'sbx-1',
};

/** The argument after `flag` (the first occurrence). */
function argumentAfter(argv: string[], flag: string): string | undefined {
  const at = argv.indexOf(flag);
  return at < 0 ? undefined : argv[at + 1];
}

test('the program, name, memory (limit plus the kernel) and vCPUs (rounded up)', () => {
  const argv = qemuCommandLine(machine);
  assert.equal(argv[0], machine.qemuPath);
  assert.equal(argumentAfter(argv, '-name'), 'sbx-1');
  assert.equal(argumentAfter(argv, '-m'), `${256 + guestKernelMiB}M`);
  assert.equal(argumentAfter(argv, '-smp'), '2');
  assert.match(argumentAfter(argv, '-M') ?? '', /^microvm/);
  assert.equal(argumentAfter(argv, '-kernel'), machine.vmlinuxPath);
  assert.equal(argumentAfter(argv, '-initrd'), machine.initramfsPath);
  assert.ok(argv.includes('-no-reboot'));
  assert.match(argumentAfter(argv, '-sandbox') ?? '', /^on,.*spawn=deny/);
});

test('the kernel command line carries the guest cgroup limits and the hostname', () => {
  const append = argumentAfter(qemuCommandLine(machine), '-append') ?? '';
  const words = append.split(' ');
  assert.ok(words.includes('mags.hostname=box'), append);
  assert.ok(words.includes('mags.pids=64'), append);
  assert.ok(words.includes(`mags.memory=${256 * 1024 * 1024}`), append);
  assert.ok(words.includes('panic=-1'), append);
});

test('TCG: a capped translation cache, a v2 CPU model and the TSC rate; KVM: the host CPU, no TSC', () => {
  const tcg = qemuCommandLine(machine);
  assert.match(argumentAfter(tcg, '-accel') ?? '', /^tcg,tb-size=\d+$/);
  assert.match(argumentAfter(tcg, '-cpu') ?? '', /^qemu64,/);
  assert.match(argumentAfter(tcg, '-append') ?? '', /(^| )tsc_early_khz=2400000( |$)/);
  const untimed = qemuCommandLine({ ...machine, tscKhz: undefined });
  assert.doesNotMatch(argumentAfter(untimed, '-append') ?? '', /tsc_early_khz/);
  const kvm = qemuCommandLine({ ...machine, accelerator: 'kvm' });
  assert.equal(argumentAfter(kvm, '-accel'), 'kvm');
  assert.equal(argumentAfter(kvm, '-cpu'), 'host');
  assert.doesNotMatch(argumentAfter(kvm, '-append') ?? '', /tsc_early_khz/);
});

test('a network device and mags.net=1 only with egress', () => {
  const closed = qemuCommandLine(machine);
  assert.ok(!closed.includes('-netdev'));
  assert.doesNotMatch(argumentAfter(closed, '-append') ?? '', /mags\.net/);
  const open = qemuCommandLine({ ...machine, network: { egress: 'all' } });
  assert.match(argumentAfter(open, '-netdev') ?? '', /^user,/);
  assert.ok(open.some((word) => word.startsWith('virtio-net-device')));
  assert.ok((argumentAfter(open, '-append') ?? '').split(' ').includes('mags.net=1'));
});

test('the root is the jail overlay over 9p, passthrough, with st_devs remapped', () => {
  const argv = qemuCommandLine(machine);
  const fsdev = argumentAfter(argv, '-fsdev') ?? '';
  assert.match(fsdev, /path=\/rootfs/);
  assert.match(fsdev, /security_model=passthrough/);
  assert.match(fsdev, /multidevs=remap/);
  assert.ok(
    argv.some((word) => word.startsWith('virtio-9p-device') && word.includes('mount_tag=root')),
  );
});
