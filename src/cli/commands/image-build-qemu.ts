import { resolveMagsHome } from '../../config/mags-home.ts';
import { nativeBinaryPath } from '../../config/package-paths.ts';
import { InvalidInputError } from '../../errors/mags-error.ts';
import { printJson } from '../output.ts';

/**
 * `mags image build --runtime qemu`: the qemu runtime's guest kernel and initramfs (downloaded
 * once, ~70 MB), then the accelerator probe, whose answer the runtime and `mags doctor` reuse.
 */
export async function buildQemuGuest(flags: {
  runtime: string;
  force?: boolean;
  json?: boolean;
}): Promise<void> {
  if (flags.runtime !== 'qemu') {
    throw new InvalidInputError(`No image to build for runtime ${JSON.stringify(flags.runtime)}.`, {
      hint: 'Use --runtime qemu (its guest kernel), or no --runtime for the base image.',
    });
  }
  const [{ buildGuestKernel }, { chooseAccelerator }, { default: yoctoSpinner }] =
    await Promise.all([
      import('../../runtimes/qemu/guest-kernel.ts'),
      import('../../runtimes/qemu/accelerator.ts'),
      import('yocto-spinner'),
    ]);
  const home = resolveMagsHome();
  const spinner = yoctoSpinner({
    text: "Building the qemu runtime's guest kernel",
    stream: process.stderr,
  }).start();
  const startedAt = Date.now();
  const seconds = () => Math.round((Date.now() - startedAt) / 1000);
  let kernel: Awaited<ReturnType<typeof buildGuestKernel>>;
  try {
    kernel = await buildGuestKernel({
      home,
      force: flags.force,
      initPath: nativeBinaryPath('mags-vm-init'),
      agentPath: nativeBinaryPath('mags-agent'),
      onProgress: (event) => {
        spinner.text = `Building the guest kernel: ${event.step}${event.detail ? ` (${event.detail})` : ''} [${seconds()} s]`;
      },
    });
    spinner.success(
      `Guest kernel ${kernel.release} ready in ${seconds()} s (${kernel.vmlinuxPath})`,
    );
  } catch (error) {
    spinner.error('The guest kernel was not built');
    throw error;
  }
  const probe = yoctoSpinner({
    text: 'Choosing the accelerator (a KVM probe boots the guest once, up to 15 s)',
    stream: process.stderr,
  }).start();
  const accelerator = await chooseAccelerator({
    home,
    kernel,
    environment: process.env,
    force: flags.force,
  });
  probe.success(`Accelerator: ${accelerator.accelerator} (${accelerator.reason})`);
  if (flags.json) printJson({ kernel, accelerator });
}
