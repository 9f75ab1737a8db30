/**
 * The OCI image layout's documents and media types, as the OCI image specification v1.1 names
 * them (image-spec: media-types.md, image-index.md, manifest.md, config.md, image-layout.md).
 */
export const ociMediaTypes = {
  imageIndex: 'application/vnd.oci.image.index.v1+json',
  imageManifest: 'application/vnd.oci.image.manifest.v1+json',
  imageConfig: 'application/vnd.oci.image.config.v1+json',
  gzipLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

/** `oci-layout`'s content (image-layout.md): the only version the specification defines. */
export const ociLayoutVersion = '1.0.0';

/** A reference to a blob by its content (descriptor.md). */
export interface OciDescriptor {
  mediaType: string;
  /** `sha256:` and 64 lowercase hex digits. */
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

export interface OciImageIndex {
  schemaVersion: 2;
  mediaType: typeof ociMediaTypes.imageIndex;
  manifests: OciDescriptor[];
}

export interface OciImageManifest {
  schemaVersion: 2;
  mediaType: typeof ociMediaTypes.imageManifest;
  config: OciDescriptor;
  layers: OciDescriptor[];
  annotations?: Record<string, string>;
}

/** The parts of the image configuration (config.md) mags sets. */
export interface OciImageConfig {
  created: string;
  architecture: string;
  os: string;
  config: {
    Env: string[];
    Entrypoint?: string[];
    Cmd: string[];
    User?: string;
    ExposedPorts?: Record<string, Record<string, never>>;
    WorkingDir: string;
    Labels: Record<string, string>;
  };
  rootfs: { type: 'layers'; diff_ids: string[] };
  history: { created: string; created_by: string; comment?: string }[];
}
