import { spawn } from 'node:child_process';
import { nativeBinaryPath } from '../../config/package-paths.ts';

/** A record for `mags-layer apply`: kind, NUL, the path's bytes, NUL. */
export function marker(kind: 'o' | 'w', path: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${kind}\0`), path, Buffer.from('\0')]);
}

/** Writes overlay markers (whiteouts, opaque directories) with `mags-layer apply`. */
export function applyMarkers(records: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(nativeBinaryPath('mags-layer'), ['apply'], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`mags-layer apply failed: ${stderr}`)),
    );
    child.stdin.end(records);
  });
}
