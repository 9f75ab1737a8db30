import type { OutgoingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { tooManyUpgrades } from './url-proxy-errors.ts';

/** WebSockets (upgrades) one sandbox may hold open through its URLs at once. */
export const maxUpgradesPerSandbox = 64;

/**
 * The upgraded connections open now, per owner and sandbox: each holds a relay process in the
 * sandbox (whose agent runs at most 256), so a public URL's visitors cannot take them all.
 */
export class UpgradeCounts {
  readonly #open = new Map<string, number>();

  /** Counts one more, or throws a 503 (retry later) at the most; returns its release. */
  open(owner: string, sandbox: string): () => void {
    const key = `${owner}\0${sandbox}`;
    const open = this.#open.get(key) ?? 0;
    if (open >= maxUpgradesPerSandbox) throw tooManyUpgrades(sandbox, maxUpgradesPerSandbox);
    this.#open.set(key, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#open.get(key) ?? 1) - 1;
      if (left <= 0) this.#open.delete(key);
      else this.#open.set(key, left);
    };
  }
}

/** An upgraded connection with no byte either way for this long is closed. */
const upgradeIdleTimeoutMs = 15 * 60_000;

/** How long an upgraded connection whose client has ended may still send it the rest. */
const upgradeEndGraceMs = 5_000;

/**
 * Pipes an upgraded client `socket` and its `upstream` (a sandbox's port, another host) both
 * ways until either closes; `onClose` runs once the client's side has closed.
 */
export function relayUpgrade(socket: Duplex, upstream: Duplex, onClose: () => void): void {
  socket.once('close', () => {
    onClose();
    upstream.destroy();
  });
  upstream.once('close', () => socket.destroy());
  socket.on('error', () => upstream.destroy());
  upstream.on('error', () => socket.destroy());
  // A client gone (its FIN) is not waited on for long: an app that keeps its half open
  // would hold the relay, the sandbox's use and the owner's slot until the idle timeout.
  socket.once('end', () => setTimeout(() => socket.destroy(), upgradeEndGraceMs).unref());
  // Every byte either way passes this socket: it times out only when both ways are idle.
  if ('setTimeout' in socket && typeof socket.setTimeout === 'function') {
    socket.setTimeout(upgradeIdleTimeoutMs, () => socket.destroy());
  }
  socket.pipe(upstream);
  upstream.pipe(socket);
}

/** Writes an upgrade's request line (`METHOD PATH`), its headers and its first bytes upstream. */
export function writeHandshake(
  upstream: Duplex,
  requestLine: string,
  headers: OutgoingHttpHeaders,
  head: Buffer,
): void {
  const lines = [`${requestLine} HTTP/1.1`];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${one}`);
  }
  upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
  if (head.length > 0) upstream.write(head);
}
