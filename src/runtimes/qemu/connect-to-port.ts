import { createConnection, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { MagsError } from '../../errors/mags-error.ts';
import { GuestClient } from '../../guest/guest-client.ts';

/** How long one try waits for HELLO from an agent that is already up. */
const helloTryMs = 2000;

/**
 * Connects to a running VM's agent through QEMU's socket (`run/ID/agent.sock`: the launcher
 * listens on it, QEMU serves it). A host that comes right after another left can be too quick for
 * the agent: the guest driver gets "host closed" and "host open" back to back, the agent's port
 * never reads EOF, and no HELLO comes for the new host. So a try that hears nothing closes its connection (a hang-up the agent does see,
 * after which it opens its port again) and tries again, until `timeoutMs`.
 */
export async function connectToPort(socketPath: string, timeoutMs: number): Promise<GuestClient> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const socket = await open(socketPath);
    try {
      return await GuestClient.connect(socket, {
        helloTimeoutMs: Math.max(1, Math.min(helloTryMs, deadline - performance.now())),
      });
    } catch (error) {
      socket.destroy();
      const silent = error instanceof MagsError && error.code === 'guest_timeout';
      if (!silent || performance.now() > deadline) throw error;
      await sleep(250);
    }
  }
}

function open(socketPath: string): Promise<Socket> {
  const socket = createConnection(socketPath);
  return new Promise((resolve, reject) => {
    const onError = (error: Error) =>
      reject(
        new MagsError(`Cannot reach the VM's agent at ${socketPath}.`, {
          code: 'guest_unreachable',
          retryable: true,
          cause: error,
        }),
      );
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}
