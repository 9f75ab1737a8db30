/**
 * The OCI image layout `mags image build --oci` writes, checked without podman: every blob's name
 * is its content's digest, index → manifest → config and layers reference each other with the
 * specification's media types, the layers hold the image's own ids and fixed mtimes, two builds
 * give the same bytes, and a failed write (missing or read-only directory, full disk) leaves no
 * archive behind.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmod,
  lchown,
  link,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import type { MagsError } from '../../errors/mags-error.ts';
import type { ImageInfo } from '../image-store.ts';
import { buildOciArchive } from './build-oci-archive.ts';
import { ociAgentPath } from './oci-image-config.ts';
import { ociMediaTypes } from './oci-media-types.ts';

const isRoot = process.getuid?.() === 0;
const scratch = await mkdtemp(join(tmpdir(), 'mags-test-oci-'));
after(async () => {
  for (const mount of mountsUnder(scratch)) execFileSync('umount', ['--lazy', mount]);
  await rm(scratch, { recursive: true, force: true });
});

// As root the fake image is stored as mags stores one, shifted into the sandboxes' host ids
// (shift-ownership.ts); otherwise its files are the test user's, taken as the image's root.
const uidBase = isRoot ? 100_000 : (process.getuid?.() ?? 0);
const rootfs = join(scratch, 'image', 'rootfs');
const longName = `${'deep/'.repeat(25)}file-with-a-name-past-the-100-byte-ustar-field.txt`;
await mkdir(join(rootfs, 'etc'), { recursive: true });
await mkdir(join(rootfs, 'usr', 'local', 'lib'), { recursive: true });
await mkdir(join(rootfs, 'workspace'));
await mkdir(join(rootfs, 'root'), { mode: 0o700 });
await writeFile(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
await writeFile(join(rootfs, 'etc', 'shadow'), 'root:*:19000:0:99999:7:::\n', { mode: 0o640 });
await writeFile(join(rootfs, 'b-first-link'), 'linked\n');
await link(join(rootfs, 'b-first-link'), join(rootfs, 'c-second-link'));
await symlink('usr/bin', join(rootfs, 'bin'));
await mkdir(join(rootfs, ...longName.split('/').slice(0, -1)), { recursive: true });
await writeFile(join(rootfs, longName), 'far down\n');
execFileSync('mkfifo', [join(rootfs, 'a-fifo')]);
if (isRoot) {
  for (const path of await walk(rootfs)) await lchown(path, uidBase, uidBase);
  await lchown(join(rootfs, 'etc', 'shadow'), uidBase, uidBase + 42); // Debian's group shadow
}
await chmod(join(rootfs, 'etc', 'shadow'), 0o640);
const agentPath = join(scratch, 'mags-agent');
await writeFile(agentPath, '#!/bin/sh\necho agent\n', { mode: 0o755 });
const image: ImageInfo = {
  name: 'tiny',
  rootfs,
  createdAt: '2026-11-29T16:02:09.075Z',
  uidBase,
  sizeBytes: 0,
  debianRelease: '12.15',
  versions: { node: 'v24.22.3' },
  lowerLayers: [rootfs],
};
const options = { image, agentPath, magsVersion: '9.8.7', reference: 'mags-tiny:9.8.7' };

test('the archive is an OCI image layout whose documents and blobs reference each other by digest', async () => {
  const output = join(scratch, 'mags.tar');
  const archive = await buildOciArchive({ ...options, output });
  const files = await readTar(await readFile(output));
  assert.deepEqual([...files.keys()].slice(0, 4), [
    'oci-layout',
    'index.json',
    'blobs/',
    'blobs/sha256/',
  ]);
  assert.deepEqual(json(files, 'oci-layout'), { imageLayoutVersion: '1.0.0' });
  for (const [path, content] of files) {
    if (!path.startsWith('blobs/sha256/') || path.endsWith('/')) continue;
    assert.equal(
      sha256(content),
      path.slice('blobs/sha256/'.length),
      `${path} is named by its digest`,
    );
  }
  const index = json(files, 'index.json');
  assert.equal(index.schemaVersion, 2);
  assert.equal(index.mediaType, ociMediaTypes.imageIndex);
  assert.equal(index.manifests.length, 1);
  const [descriptor] = index.manifests;
  assert.equal(descriptor.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.equal(descriptor.annotations['org.opencontainers.image.ref.name'], 'mags-tiny:9.8.7');
  assert.deepEqual(descriptor.platform, { architecture: 'amd64', os: 'linux' });
  assert.equal(descriptor.digest, archive.manifest.digest);
  const manifestBytes = blob(files, descriptor.digest);
  assert.equal(manifestBytes.length, descriptor.size);
  const manifest = JSON.parse(manifestBytes.toString());
  assert.equal(manifest.schemaVersion, 2);
  assert.equal(manifest.mediaType, ociMediaTypes.imageManifest);
  assert.equal(manifest.config.mediaType, 'application/vnd.oci.image.config.v1+json');
  assert.equal(manifest.layers.length, 2);
  const config = JSON.parse(blob(files, manifest.config.digest).toString());
  assert.equal(blob(files, manifest.config.digest).length, manifest.config.size);
  for (const [position, layer] of manifest.layers.entries()) {
    assert.equal(layer.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    const compressed = blob(files, layer.digest);
    assert.equal(compressed.length, layer.size);
    // diff_ids are the digests of the uncompressed tars (config.md, "rootfs").
    assert.equal(config.rootfs.diff_ids[position], `sha256:${sha256(gunzipSync(compressed))}`);
  }
  assert.equal(config.os, 'linux');
  assert.equal(config.architecture, 'amd64');
  assert.equal(config.config.WorkingDir, '/workspace');
  assert.deepEqual(config.config.Cmd, ['/bin/bash']);
  assert.ok(
    config.config.Env.includes('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'),
  );
  assert.equal(config.config.Labels['org.opencontainers.image.version'], '9.8.7');
  assert.equal(config.config.Labels['org.opencontainers.image.base.name'], 'tiny');
  assert.equal(manifest.annotations['org.opencontainers.image.version'], '9.8.7');
  assert.equal(config.history.length, 2);
});

test("the base layer holds the image's own ids, one mtime, byte order, links; the second the agent", async () => {
  const output = join(scratch, 'layers.tar');
  await buildOciArchive({ ...options, output });
  const files = await readTar(await readFile(output));
  const manifest = JSON.parse(
    blob(files, json(files, 'index.json').manifests[0].digest).toString(),
  );
  const base = await readTarEntries(gunzipSync(blob(files, manifest.layers[0].digest)));
  const paths = base.map((entry) => entry.path);
  assert.deepEqual(
    paths,
    [...paths].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
  );
  assert.ok(!paths.includes('a-fifo'), 'a fifo cannot be carried portably and is left out');
  const byPath = new Map(base.map((entry) => [entry.path, entry]));
  for (const entry of base) {
    assert.equal(entry.mtime?.toISOString(), '2026-11-29T16:02:09.000Z', entry.path);
    assert.equal(
      entry.uid,
      0,
      `${entry.path} belongs to the image's root, not host uid ${uidBase}`,
    );
  }
  if (isRoot) assert.equal(byPath.get('etc/shadow')?.gid, 42);
  assert.equal((byPath.get('etc/shadow')?.mode ?? 0) & 0o7777, 0o640);
  assert.equal((byPath.get('root/')?.mode ?? 0) & 0o7777, 0o700);
  assert.equal(byPath.get('root/')?.type, 'Directory');
  assert.equal(byPath.get('bin')?.type, 'SymbolicLink');
  assert.equal(byPath.get('bin')?.linkpath, 'usr/bin');
  assert.equal(byPath.get('b-first-link')?.type, 'File');
  assert.equal(byPath.get('c-second-link')?.type, 'Link');
  assert.equal(byPath.get('c-second-link')?.linkpath, 'b-first-link');
  assert.equal(byPath.get(longName)?.content.toString(), 'far down\n');
  const mags = await readTarEntries(gunzipSync(blob(files, manifest.layers[1].digest)));
  const agent = mags.find((entry) => `/${entry.path}` === ociAgentPath);
  assert.equal(agent?.content.toString(), '#!/bin/sh\necho agent\n');
  assert.equal((agent?.mode ?? 0) & 0o7777, 0o755);
  assert.deepEqual(
    mags.map((entry) => entry.path),
    [
      'etc/',
      'etc/gitconfig',
      'usr/',
      'usr/local/',
      'usr/local/etc/',
      'usr/local/etc/npmrc',
      'usr/local/lib/',
      'usr/local/lib/mags/',
      'usr/local/lib/mags/mags-agent',
    ],
  );
});

test('two builds of the same image give the same bytes', async () => {
  await buildOciArchive({ ...options, output: join(scratch, 'first.tar') });
  await buildOciArchive({ ...options, output: join(scratch, 'second.tar') });
  assert.equal(
    sha256(await readFile(join(scratch, 'first.tar'))),
    sha256(await readFile(join(scratch, 'second.tar'))),
  );
});

test('an output in a missing directory or naming a directory is refused, and nothing is written', async () => {
  await assert.rejects(
    buildOciArchive({ ...options, output: join(scratch, 'missing', 'mags.tar') }),
    (error: MagsError) => {
      assert.equal(error.code, 'invalid_input');
      assert.match(error.message, /is not a directory/);
      assert.match(error.hint ?? '', /--output FILE/);
      return true;
    },
  );
  await assert.rejects(
    buildOciArchive({ ...options, output: scratch }),
    /is a directory; --output names the archive file/,
  );
  await assert.rejects(
    buildOciArchive({
      ...options,
      agentPath: join(scratch, 'no-agent'),
      output: join(scratch, 'x.tar'),
    }),
    (error: MagsError) => {
      assert.equal(error.code, 'dependency_missing');
      assert.match(error.hint ?? '', /npm run build/);
      return true;
    },
  );
  assert.deepEqual(
    (await readdir(scratch)).filter((name) => name.includes('partial') || name === 'x.tar'),
    [],
  );
});

test('a build killed mid-way leaves staging that the next build of that output removes', async () => {
  // A pid that was alive and is no more: a build that died (Ctrl-C) with its staging directory.
  const deadPid = spawnSync('true').pid;
  const abandoned = join(scratch, `.again.tar.partial-${deadPid}-x1`);
  await mkdir(join(abandoned, 'blobs', 'sha256'), { recursive: true });
  const running = join(scratch, `.again.tar.partial-${process.ppid}-x2`); // a live process's
  await mkdir(running);
  await buildOciArchive({ ...options, output: join(scratch, 'again.tar') });
  const left = (await readdir(scratch)).filter((name) => name.startsWith('.again.tar.partial-'));
  assert.deepEqual(left, [`.again.tar.partial-${process.ppid}-x2`]);
  await rm(running, { recursive: true });
});

test('a read-only output directory and a disk that fills mid-write leave no archive and no staging', {
  skip: isRoot ? false : 'mounting the small filesystems needs root',
}, async () => {
  const readOnly = join(scratch, 'read-only');
  await mkdir(readOnly);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', readOnly]);
  await assert.rejects(
    buildOciArchive({ ...options, output: join(readOnly, 'mags.tar') }),
    (error: MagsError) => {
      assert.equal(error.code, 'permission_denied');
      assert.match(error.message, /read-only filesystem/);
      return true;
    },
  );
  // 256 KiB of random bytes do not compress: the base layer alone outgrows a 128 KiB disk.
  await writeFile(join(rootfs, 'noise'), (await import('node:crypto')).randomBytes(256 * 1024));
  if (isRoot) await lchown(join(rootfs, 'noise'), uidBase, uidBase);
  const small = join(scratch, 'small');
  await mkdir(small);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=128k', 'tmpfs', small]);
  await writeFile(join(small, 'mags.tar'), 'an older archive');
  try {
    await assert.rejects(
      buildOciArchive({ ...options, output: join(small, 'mags.tar') }),
      (error: MagsError) => {
        assert.equal(error.code, 'disk_full');
        assert.match(
          error.message,
          /ran full while the OCI archive was written; no archive was left/,
        );
        return true;
      },
    );
    assert.deepEqual(await readdir(small), ['mags.tar'], 'only the older archive, untouched');
    assert.equal(await readFile(join(small, 'mags.tar'), 'utf8'), 'an older archive');
  } finally {
    await rm(join(rootfs, 'noise'));
  }
});

test('a base image file the user cannot read is named, with root as the way out', {
  skip: isRoot ? 'root reads every file' : false,
}, async () => {
  const secret = join(rootfs, 'etc', 'unreadable');
  await writeFile(secret, 'x', { mode: 0o000 });
  try {
    await assert.rejects(
      buildOciArchive({ ...options, output: join(scratch, 'denied.tar') }),
      (error: MagsError) => {
        assert.equal(error.code, 'permission_denied');
        assert.match(error.message, /Cannot read .*etc\/unreadable of the base image/);
        assert.match(error.hint ?? '', /as root/);
        return true;
      },
    );
  } finally {
    await rm(secret);
  }
});

test('the server image adds mags for production: bin, dist, non-dev packages, run as uid 10001', async () => {
  const packageRoot = join(scratch, 'package');
  const write = async (relative: string, content: string, mode = 0o644) => {
    await mkdir(join(packageRoot, relative, '..'), { recursive: true });
    await writeFile(join(packageRoot, relative), content, { mode });
  };
  await write('package.json', '{"name":"mags","version":"9.8.7"}');
  await write('bin/mags.js', '#!/usr/bin/env node\n', 0o755);
  await write('dist/cli.js', 'export {};\n');
  await write('node_modules/prod-a/index.js', 'a');
  await write('node_modules/prod-a/node_modules/nested-prod/index.js', 'n');
  await write('node_modules/prod-a/node_modules/nested-dev/index.js', 'd');
  await write('node_modules/dev-b/index.js', 'b');
  await write('src/not-shipped.ts', 'x');
  await write(
    'package-lock.json',
    JSON.stringify({
      packages: {
        '': { name: 'mags' },
        'node_modules/prod-a': {},
        'node_modules/prod-a/node_modules/nested-prod': {},
        'node_modules/prod-a/node_modules/nested-dev': { dev: true },
        'node_modules/dev-b': { dev: true },
        'node_modules/other-platform-only': { optional: true },
      },
    }),
  );
  const output = join(scratch, 'server.tar');
  await buildOciArchive({ ...options, output, server: { packageRoot } });
  const files = await readTar(await readFile(output));
  const manifest = JSON.parse(
    blob(files, json(files, 'index.json').manifests[0].digest).toString(),
  );
  assert.equal(manifest.layers.length, 3);
  const config = JSON.parse(blob(files, manifest.config.digest).toString());
  assert.equal(config.rootfs.diff_ids.length, 3);
  assert.deepEqual(config.config.Entrypoint, ['mags']);
  assert.deepEqual(config.config.Cmd, ['server', '--host=0.0.0.0', '--port=7070']);
  assert.equal(config.config.User, '10001:10001');
  assert.ok(config.config.Env.includes('MAGS_HOME=/var/lib/mags'));
  assert.deepEqual(config.config.ExposedPorts, { '7070/tcp': {} });
  assert.equal(config.config.Labels['org.opencontainers.image.title'], 'mags server');
  const layer = await readTarEntries(gunzipSync(blob(files, manifest.layers[2].digest)));
  const byPath = new Map(layer.map((entry) => [entry.path, entry]));
  assert.deepEqual(
    layer.filter((entry) => entry.type !== 'Directory').map((entry) => entry.path),
    [
      'opt/mags/package.json',
      'opt/mags/bin/mags.js',
      'opt/mags/dist/cli.js',
      'opt/mags/node_modules/prod-a/index.js',
      'opt/mags/node_modules/prod-a/node_modules/nested-prod/index.js',
      'usr/local/bin/mags',
    ],
  );
  assert.equal(byPath.get('usr/local/bin/mags')?.linkpath, '/opt/mags/bin/mags.js');
  assert.equal((byPath.get('opt/mags/bin/mags.js')?.mode ?? 0) & 0o7777, 0o755);
  for (const entry of layer) {
    if (entry.path === 'var/lib/mags/') continue;
    assert.equal(entry.uid, 0, `${entry.path}: root's, so the server cannot change its own code`);
  }
  assert.equal(byPath.get('var/lib/mags/')?.uid, 10001);
  assert.equal((byPath.get('var/lib/mags/')?.mode ?? 0) & 0o7777, 0o700);
  await rm(join(packageRoot, 'dist'), { recursive: true });
  await assert.rejects(
    buildOciArchive({ ...options, output, server: { packageRoot } }),
    (error: MagsError) => {
      assert.equal(error.code, 'dependency_missing');
      assert.match(error.hint ?? '', /npm run build/);
      return true;
    },
  );
});

interface TarMember {
  path: string;
  type: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  linkpath?: string;
  content: Buffer;
}

async function readTarEntries(bytes: Buffer): Promise<TarMember[]> {
  const members: TarMember[] = [];
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({
      onReadEntry: (entry: ReadEntry) => {
        const chunks: Buffer[] = [];
        entry.on('data', (chunk: Buffer) => chunks.push(chunk));
        entry.on('end', () => {
          const { path, type, mode, uid, gid, mtime, linkpath } = entry;
          members.push({
            path,
            type,
            mode,
            uid,
            gid,
            mtime,
            linkpath,
            content: Buffer.concat(chunks),
          });
        });
      },
    });
    parser.on('end', resolve);
    parser.on('error', reject);
    parser.end(bytes);
  });
  return members;
}

async function readTar(bytes: Buffer): Promise<Map<string, Buffer>> {
  return new Map((await readTarEntries(bytes)).map((member) => [member.path, member.content]));
}

function blob(files: Map<string, Buffer>, digest: string): Buffer {
  const content = files.get(`blobs/sha256/${digest.replace(/^sha256:/, '')}`);
  assert.ok(content, `the archive holds the blob ${digest}`);
  return content;
}

// biome-ignore lint/suspicious/noExplicitAny: the parsed documents are checked field by field.
function json(files: Map<string, Buffer>, path: string): any {
  return JSON.parse(files.get(path)?.toString() ?? 'null');
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function walk(directory: string): Promise<string[]> {
  const paths = [directory];
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) paths.push(...(await walk(path)));
    else paths.push(path);
  }
  return paths;
}

function mountsUnder(directory: string): string[] {
  return execFileSync('cat', ['/proc/self/mounts'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((point) => point.startsWith(`${directory}/`));
}
