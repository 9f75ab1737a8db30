import type { ImageInfo } from '../image-store.ts';
import type { OciImageConfig } from './oci-media-types.ts';
import { serverHomePath, serverInstallPath, serverUserId } from './server-layer-entries.ts';

/** Where the image carries the guest agent; the Kubernetes runtime execs `mags-agent --stdio` there. */
export const ociAgentPath = '/usr/local/lib/mags/mags-agent';

/** The environment a mags sandbox starts with (sandbox-spec.ts), minus what depends on the host. */
const imageEnvironment = [
  'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  'LANG=C.UTF-8',
  // Node.js trusts only its built-in roots; the image's bundle includes the system's CAs.
  'NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt',
];

/** The labels (config) and annotations (manifest) of an image built from `image`. */
export function ociImageLabels(
  image: ImageInfo,
  magsVersion: string,
  server = false,
): Record<string, string> {
  const versions = Object.entries(image.versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  // Predefined keys: image-spec annotations.md ("Pre-Defined Annotation Keys").
  return {
    'org.opencontainers.image.created': image.createdAt,
    'org.opencontainers.image.title': server ? 'mags server' : `mags image ${image.name}`,
    'org.opencontainers.image.description': server
      ? `mags ${magsVersion} (${serverInstallPath}; entry point mags, as uid ${serverUserId}) on the mags base image ${JSON.stringify(image.name)} (Debian ${image.debianRelease}; ${versions})`
      : `The mags base image ${JSON.stringify(image.name)} (Debian ${image.debianRelease}; ${versions}) with the mags guest agent at ${ociAgentPath}`,
    'org.opencontainers.image.version': magsVersion,
    'org.opencontainers.image.base.name': image.name,
    'org.opencontainers.image.licenses': 'Apache-2.0',
  };
}

/** The image configuration (config.md): a shell in /workspace, the layers' uncompressed digests. */
export function ociImageConfig(options: {
  image: ImageInfo;
  magsVersion: string;
  /** Uncompressed digests of the layers, the base image's first. */
  diffIds: string[];
  /** The server image: a third layer with mags itself, run as `mags server`. */
  server?: boolean;
}): OciImageConfig {
  const { image, magsVersion, diffIds, server = false } = options;
  const created = image.createdAt;
  const config: OciImageConfig = {
    created,
    architecture: ociArchitecture(),
    os: 'linux',
    config: {
      Env: imageEnvironment,
      Cmd: ['/bin/bash'],
      WorkingDir: '/workspace',
      Labels: ociImageLabels(image, magsVersion, server),
    },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: [
      {
        created,
        created_by: `mags image build --name ${image.name}`,
        comment: `Debian ${image.debianRelease} (debootstrap minbase) and ${Object.keys(image.versions).join(', ')}`,
      },
      {
        created,
        created_by: `mags image build --oci --name ${image.name}`,
        comment: `mags ${magsVersion}: the guest agent and mags' image defaults`,
      },
    ],
  };
  if (!server) return config;
  return {
    ...config,
    config: {
      ...config.config,
      Env: [...imageEnvironment, `MAGS_HOME=${serverHomePath}`],
      Entrypoint: ['mags'],
      Cmd: ['server', '--host=0.0.0.0', '--port=7070'],
      WorkingDir: serverInstallPath,
      User: `${serverUserId}:${serverUserId}`,
      ExposedPorts: { '7070/tcp': {} },
    },
    history: [
      ...config.history,
      {
        created,
        created_by: `mags image build --oci --server --name ${image.name}`,
        comment: `mags ${magsVersion} for production (bin, dist, non-dev node_modules) in ${serverInstallPath}`,
      },
    ],
  };
}

/** The image's architecture: the host's, as the agent (a static binary built here) is. */
export function ociArchitecture(): string {
  // Node's names (process.arch) against Go's, which OCI uses (image-index.md, platform).
  const goNames: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: '386' };
  return goNames[process.arch] ?? process.arch;
}
