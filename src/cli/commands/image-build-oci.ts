import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nativeBinaryPath, packageRoot } from '../../config/package-paths.ts';
import { NotFoundError } from '../../errors/mags-error.ts';
import { formatBytes, printJson } from '../output.ts';

/**
 * `mags image build --oci`: the base image as an OCI image layout archive a user pushes with
 * their own tools (skopeo, podman); the Kubernetes runtime runs its pods from it. With `--server`
 * the image of `mags server` itself, on the same base (deploy/kubernetes/ runs it).
 */
export async function buildOciImage(flags: {
  name: string;
  output?: string;
  tag?: string;
  server?: boolean;
  json?: boolean;
}): Promise<void> {
  // A bad reference is refused before the build, which takes minutes.
  if (flags.tag !== undefined) {
    const { checkImageReference } = await import('../../images/oci/oci-image-ids.ts');
    checkImageReference(flags.tag);
  }
  const [{ createMagsContext }, { buildOciArchive }, { default: yoctoSpinner }] = await Promise.all(
    [
      import('../../context/mags-context.ts'),
      import('../../images/oci/build-oci-archive.ts'),
      import('yocto-spinner'),
    ],
  );
  const image = await createMagsContext().images.get(flags.name);
  if (!image) {
    throw new NotFoundError(`The base image ${JSON.stringify(flags.name)} is not built.`, {
      hint: `Build it first (about two minutes, as root): npx mags image build${flags.name === 'default' ? '' : ` --name ${flags.name}`}, then npx mags image build --oci${flags.name === 'default' ? '' : ` --name ${flags.name}`}`,
    });
  }
  const { version } = JSON.parse(await readFile(join(packageRoot(), 'package.json'), 'utf8')) as {
    version: string;
  };
  const kind = flags.server ? 'server' : image.name;
  const output = flags.output ?? `mags-${kind}.oci.tar`;
  const spinner = yoctoSpinner({ text: `Writing ${output}`, stream: process.stderr }).start();
  const startedAt = Date.now();
  const seconds = () => Math.round((Date.now() - startedAt) / 1000);
  try {
    const archive = await buildOciArchive({
      image,
      agentPath: nativeBinaryPath('mags-agent'),
      output,
      magsVersion: version,
      reference: flags.tag ?? `mags-${kind}:${version}`,
      ...(flags.server ? { server: { packageRoot: packageRoot() } } : {}),
      onProgress: (event) => {
        spinner.text = `Writing ${output}: ${event.step}, ${formatBytes(event.bytes)} [${seconds()} s]`;
      },
    });
    spinner.success(
      `Wrote ${archive.output} (${formatBytes(archive.sizeBytes)}, manifest ${archive.manifest.digest}) in ${seconds()} s`,
    );
    if (flags.json) printJson(archive);
  } catch (error) {
    spinner.error(`No OCI archive was written`);
    throw error;
  }
}
