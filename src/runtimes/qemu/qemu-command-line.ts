import { hasNetwork } from '../egress-policy.ts';
import type { NetworkPolicy, ResourceLimits } from '../runtime.ts';

/** Where the launcher's jail shows the monitor its files (native/sandbox.c, `--vm`). */
export const jailAssetsDirectory = '/vm';
export const jailRootDirectory = '/rootfs';
/**
 * The agent's stream: the launcher listens on `run/ID/agent.sock` (root's, in the root-owned run
 * directory) and hands QEMU the listening socket at this fd (native/sandbox.c, VM_AGENT_FD), so
 * QEMU never holds a host directory it could plant a symlink in. QEMU 7.2 takes a listening fd
 * with `server=on` (tried here: it accepts each connection, one after another).
 */
export const agentListenFd = 3;

export interface QemuMachine {
  qemuPath: string;
  accelerator: 'kvm' | 'tcg';
  /** Paths inside the jail (under `jailAssetsDirectory`). */
  vmlinuxPath: string;
  initramfsPath: string;
  limits: ResourceLimits;
  network: NetworkPolicy;
  hostname: string;
  /** TCG only: the host's TSC rate, so the guest need not calibrate it (host-tsc.ts). */
  tscKhz?: number;
  /** The sandbox's id: QEMU's `-name`, so `ps` on the host tells which VM a process is. */
  name: string;
}

/**
 * The memory QEMU itself needs beside the guest's RAM: its code, TCG's translation cache (capped
 * at `translationCacheMiB`: the default is 1 GiB on a 64-bit host, docs/devel/tcg.rst), 9p
 * buffers. The sandbox's cgroup holds the guest's memory plus this.
 */
export const monitorOverheadMiB = 160;
const translationCacheMiB = 64;
/**
 * x86-64-v2 (what distributions now build for) and no more: with `-cpu max` an exec of `true`
 * through the agent took 133 ms against 62 ms here, most likely the larger AVX-512 register state
 * TCG saves and restores at every context switch.
 */
const tcgCpuModel = 'qemu64,+ssse3,+sse4.1,+sse4.2,+popcnt';

/**
 * The guest kernel's share of the VM's memory beside the sandbox's limit: Debian's 6.1 vmlinux
 * loads to 74 MiB (its ELF program headers; a 64 MiB VM never boots) and a booted guest holds
 * about 90 MiB of a 512 MiB VM (MemTotal minus MemAvailable, measured). The sandbox's own limit
 * is the guest cgroup's memory.max (native/vm-init.c), as a namespace sandbox's is its cgroup's.
 */
export const guestKernelMiB = 128;

/** The VM's memory: the sandbox's limit plus what its kernel needs. */
export function guestMemoryMiB(limits: ResourceLimits): number {
  return limits.memoryMiB + guestKernelMiB;
}

/** QEMU's own seccomp filter: no exec, no privilege changes, no obsolete syscalls. */
export const qemuSandboxArguments = [
  '-sandbox',
  'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny',
];

/** A microvm booting the guest kernel: what a sandbox, the KVM probe and the bench floor share. */
export interface MicrovmBoot {
  accelerator: 'kvm' | 'tcg';
  memoryMiB: number;
  cpus: number;
  vmlinuxPath: string;
  initramfsPath: string;
  /** `mags.*` settings for native/vm-init.c. */
  kernelArguments: string[];
  /** TCG only: the host's TSC rate, so the guest need not calibrate it (host-tsc.ts). */
  tscKhz?: number;
}

/** The machine, accelerator, CPU model, memory, console and kernel of a microvm, no devices. */
export function microvmArguments(boot: MicrovmBoot): string[] {
  const kernelCommandLine = [
    'console=ttyS0',
    'quiet',
    'loglevel=4',
    // The agent is PID 1: when it exits the kernel panics, reboots at once, and -no-reboot makes
    // QEMU exit, which ends the launcher and the sandbox.
    'panic=-1',
    ...boot.kernelArguments,
    ...(boot.accelerator === 'tcg' && boot.tscKhz ? [`tsc_early_khz=${boot.tscKhz}`] : []),
  ].join(' ');
  return [
    '-M',
    'microvm,rtc=on',
    ...(boot.accelerator === 'kvm'
      ? ['-accel', 'kvm', '-cpu', 'host']
      : ['-accel', `tcg,tb-size=${translationCacheMiB}`, '-cpu', tcgCpuModel]),
    '-m',
    `${boot.memoryMiB}M`,
    '-smp',
    String(Math.max(1, Math.ceil(boot.cpus))),
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-serial',
    'stdio',
    '-no-reboot',
    '-kernel',
    boot.vmlinuxPath,
    '-initrd',
    boot.initramfsPath,
    '-append',
    kernelCommandLine,
  ];
}

/** The command line of `qemu-system-x86_64 -M microvm` for one sandbox. */
export function qemuCommandLine(machine: QemuMachine): string[] {
  const { limits } = machine;
  return [
    machine.qemuPath,
    '-name',
    machine.name,
    ...microvmArguments({
      accelerator: machine.accelerator,
      memoryMiB: guestMemoryMiB(limits),
      cpus: limits.cpus,
      vmlinuxPath: machine.vmlinuxPath,
      initramfsPath: machine.initramfsPath,
      kernelArguments: [
        `mags.hostname=${machine.hostname}`,
        `mags.pids=${limits.pidsMax}`,
        `mags.memory=${limits.memoryMiB * 1024 * 1024}`,
        ...(hasNetwork(machine.network) ? ['mags.net=1'] : []),
      ],
      ...(machine.tscKhz ? { tscKhz: machine.tscKhz } : {}),
    }),
    '-device',
    'virtio-serial-device,max_ports=2',
    '-chardev',
    // Hosts connect and leave (a server restart attaches again); the guest's agent waits for each.
    `socket,id=agent,fd=${agentListenFd},server=on,wait=off`,
    '-device',
    'virtserialport,chardev=agent,name=mags',
    // The workspace's overlay, merged on the host, as the guest's root. passthrough: owners and
    // modes are the files' own (QEMU runs as the sandbox's root in its user namespace, so guest
    // ids land in the sandbox's subordinate range, as in the namespace runtime). multidevs=remap:
    // an overlay shows its lower layers' files with their own st_dev, and inode numbers of two
    // devices can collide in the guest's inode cache (QEMU warns of "severe misbehaviours").
    '-fsdev',
    `local,id=root,path=${jailRootDirectory},security_model=passthrough,multidevs=remap`,
    '-device',
    'virtio-9p-device,fsdev=root,mount_tag=root',
    // With an allow-list too: QEMU's user-mode network opens its sockets in the launcher's
    // network namespace, where the egress keeper's nftables rules and DNS filter apply.
    ...(hasNetwork(machine.network)
      ? ['-netdev', 'user,id=net0', '-device', 'virtio-net-device,netdev=net0']
      : []),
    // QEMU's own seccomp filter on top of the launcher's.
    ...qemuSandboxArguments,
  ];
}
