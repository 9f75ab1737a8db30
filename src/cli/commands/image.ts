import type { Command } from 'commander';
import { formatBytes, printJson, printTable } from '../output.ts';

interface ImageBuildFlags {
  name: string;
  force?: boolean;
  json?: boolean;
  runtime?: string;
  oci?: boolean;
  server?: boolean;
  output?: string;
  tag?: string;
}

export function registerImageCommands(program: Command): void {
  const image = program.command('image').description('Base images that sandboxes run on.');
  image
    .command('build')
    .description(
      'Build a base image (Debian bookworm, git, Node.js 24, npm) once and cache it; needs root.',
    )
    .option('--name <name>', 'image name', 'default')
    .option(
      '--force',
      'rebuild even if the image exists (the old one is used until the new one is ready)',
    )
    .option('--json', 'print the image as JSON')
    .option(
      '--runtime <name>',
      "qemu: build the qemu runtime's guest kernel and initramfs (from Debian's linux-image-amd64) and probe KVM",
    )
    .option(
      '--oci',
      'write the built image (--name) with the guest agent as an OCI image layout archive, for skopeo copy oci-archive:FILE or podman load',
    )
    .option(
      '--server',
      "with --oci: the image of mags server itself (this package's build on the base image, runs as uid 10001)",
    )
    .option('--output <file>', 'with --oci: the archive to write (default mags-NAME.oci.tar)')
    .option(
      '--tag <reference>',
      'with --oci: the name podman load gives it (default mags-NAME:VERSION)',
    )
    .action(async (flags: ImageBuildFlags) => {
      if (!flags.oci && (flags.output !== undefined || flags.tag !== undefined || flags.server)) {
        const { InvalidInputError } = await import('../../errors/mags-error.ts');
        throw new InvalidInputError(
          '--output, --tag and --server are about the OCI archive: they go with --oci.',
          {
            hint: 'npx mags image build --oci --output mags.tar',
          },
        );
      }
      if (flags.oci && flags.runtime !== undefined) {
        const { InvalidInputError } = await import('../../errors/mags-error.ts');
        throw new InvalidInputError(
          "--oci writes a base image (--name); --runtime builds a runtime's guest: one at a time.",
          {
            hint: 'npx mags image build --oci --name default',
          },
        );
      }
      if (flags.oci) {
        const { buildOciImage } = await import('./image-build-oci.ts');
        return buildOciImage(flags);
      }
      if (flags.runtime !== undefined && flags.runtime !== 'namespace') {
        const { buildQemuGuest } = await import('./image-build-qemu.ts');
        return buildQemuGuest({ runtime: flags.runtime, force: flags.force, json: flags.json });
      }
      const { createMagsContext } = await import('../../context/mags-context.ts');
      const context = createMagsContext();
      const existing = flags.force ? undefined : await context.images.get(flags.name);
      if (existing) {
        process.stderr.write(
          `Image ${existing.name} is already built (${existing.createdAt}); --force rebuilds it.\n`,
        );
        if (flags.json) printJson(existing);
        return;
      }
      const { default: yoctoSpinner } = await import('yocto-spinner');
      const spinner = yoctoSpinner({
        text: `Building image ${flags.name}`,
        stream: process.stderr,
      }).start();
      const startedAt = Date.now();
      try {
        const info = await context.images.build({
          name: flags.name,
          force: flags.force,
          onProgress: (event) => {
            const seconds = Math.round((Date.now() - startedAt) / 1000);
            spinner.text = `Building image ${flags.name}: ${event.step}${event.detail ? ` (${event.detail})` : ''} [${seconds} s]`;
          },
        });
        spinner.success(
          `Built image ${info.name} in ${Math.round((Date.now() - startedAt) / 1000)} s (${formatBytes(info.sizeBytes)})`,
        );
        if (flags.json) printJson(info);
      } catch (error) {
        spinner.error(`Image ${flags.name} was not built`);
        throw error;
      }
    });
  image
    .command('list')
    .description('List built images.')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      const { createMagsContext } = await import('../../context/mags-context.ts');
      const images = await createMagsContext().images.list();
      if (flags.json) return printJson(images);
      printTable(
        ['NAME', 'SIZE', 'CREATED'],
        images.map((info) => [info.name, formatBytes(info.sizeBytes), info.createdAt]),
      );
    });
  image
    .command('delete')
    .description('Delete a built image.')
    .argument('<name>')
    .action(async (name: string) => {
      const { createMagsContext } = await import('../../context/mags-context.ts');
      await createMagsContext().images.delete(name);
    });
}
