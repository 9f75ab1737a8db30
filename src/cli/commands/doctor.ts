import { release } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { MagsError } from '../../errors/mags-error.ts';
import { printJson } from '../output.ts';

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('Check that this host can run sandboxes, and say what to install or run if not.')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      const { createMagsContext } = await import('../../context/mags-context.ts');
      const context = createMagsContext();
      const check = await context.runtime.check();
      const image = await context.images.get(context.defaults.image);
      if (!image) check.problems.push('The base image is not built: run npx mags image build');
      const { missingDiskTools } = await import('../../workspaces/workspace-disk.ts');
      const missing = missingDiskTools();
      if (missing.length > 0) {
        check.problems.push(
          `Workspace disks need ${missing.join(', ')}: apt-get install e2fsprogs util-linux`,
        );
      }
      // Throw-away layers are a tmpfs under overlayfs's userxattr, which needs user.* xattrs on
      // tmpfs: Linux 6.6 and later (native/sandbox.c, mount_scratch).
      const [major = 0, minor = 0] = release()
        .split('.')
        .map((part) => Number.parseInt(part, 10));
      if (major < 6 || (major === 6 && minor < 6)) {
        check.warnings.push(
          `Linux ${release()} is older than 6.6 (no user xattrs on tmpfs): runs without a workspace to write (-e, --base, none) will fail to mount their throw-away layer; runs on a workspace work`,
        );
      }
      // Every sandbox's layers are under MAGS_HOME and mounted as its unprivileged host uid: a
      // home inside a private directory (mode 0700) fails every run, so say it here.
      if (context.runtime.name === 'namespace') {
        const { assertTraversable } = await import('../../runtimes/namespace/check-traversable.ts');
        const { namespaceIdMapping } = await import('../../runtimes/namespace/id-mapping.ts');
        try {
          const { uidBase } = namespaceIdMapping(process.env);
          await assertTraversable([join(context.home, 'workspaces')], uidBase);
        } catch (error) {
          const { message, hint } = error as MagsError;
          check.problems.push(hint ? `${message} ${hint}` : message);
        }
      }
      // The qemu runtime is optional beside namespace: its section is always shown, and its
      // problems fail doctor only when it is the runtime in use (whose check() has them already).
      const { checkQemuHost, qemuPathFor } = await import('../../runtimes/qemu/check-qemu-host.ts');
      const { nativeBinaryPath } = await import('../../config/package-paths.ts');
      const qemuPath = qemuPathFor(process.env);
      const qemu = await checkQemuHost({
        home: context.home,
        environment: process.env,
        ...(qemuPath ? { qemuPath } : {}),
        initPath: nativeBinaryPath('mags-vm-init'),
        agentPath: nativeBinaryPath('mags-agent'),
      });
      const ok = check.problems.length === 0;
      if (flags.json) printJson({ ...check, ok, home: context.home, qemu });
      else {
        process.stdout.write(`runtime: ${context.runtime.name}\nhome: ${context.home}\n`);
        const qemuProblems = new Set(qemu.problems);
        for (const problem of check.problems) {
          if (!qemuProblems.has(problem)) process.stdout.write(`✗ ${problem}\n`);
        }
        for (const warning of check.warnings) process.stdout.write(`! ${warning}\n`);
        if (ok) process.stdout.write('✓ ready to run sandboxes\n');
        process.stdout.write(
          `qemu runtime${context.runtime.name === 'qemu' ? '' : ' (optional: MAGS_RUNTIME=qemu)'}:\n`,
        );
        if (qemu.qemuPath) process.stdout.write(`  ✓ ${qemu.qemuPath}\n`);
        if (qemu.kernelRelease) process.stdout.write(`  ✓ guest kernel ${qemu.kernelRelease}\n`);
        for (const problem of qemu.problems) process.stdout.write(`  ✗ ${problem}\n`);
        for (const warning of qemu.warnings) process.stdout.write(`  ! ${warning}\n`);
        process.stdout.write(`  accelerator: ${qemu.acceleratorSummary}\n`);
      }
      process.exitCode = ok ? 0 : 1;
    });
}
