import { ApiException, type KubeConfig } from '@kubernetes/client-node';
import { MagsError } from '../../errors/mags-error.ts';
import { connectGuest } from '../../guest/connect-guest.ts';
import type { GuestClient } from '../../guest/guest-client.ts';
import { type KubernetesAction, kubernetesApiError } from './kubernetes-api-error.ts';
import { openExecStream } from './kubernetes-exec-stream.ts';
import { agentSocketPath, podName, sandboxContainerName } from './kubernetes-pod-spec.ts';
import type { KubernetesSettings } from './kubernetes-settings.ts';

/**
 * Connects to the agent of a sandbox's pod (PID 1, listening on `agentSocketPath`) through the
 * exec subresource: `mags-agent --connect` relays the exec stream to it. The relay ends with the
 * stream; the agent, and its durable execs, run on for the next connection.
 */
export async function connectPodAgent(
  config: KubeConfig,
  settings: KubernetesSettings,
  sandboxId: string,
  doing: KubernetesAction,
): Promise<GuestClient> {
  const exec = await openExecStream(
    config,
    { namespace: settings.namespace, pod: podName(sandboxId), container: sandboxContainerName },
    [settings.agentPath, '--connect', agentSocketPath],
  ).catch((error: unknown) => {
    throw execError(error, doing);
  });
  return connectGuest({ kind: 'stream', stream: exec.stream }).catch((error: unknown) => {
    exec.stream.destroy();
    const said = exec.stderrTail() || exec.status()?.message;
    throw new MagsError(
      `The agent in the pod of sandbox ${sandboxId} did not answer (${error instanceof Error ? error.message : String(error)})${said ? `: ${said}` : ''}.`,
      {
        code: 'sandbox_start_failed',
        sandboxId,
        statusCode: 503,
        cause: error,
        hint: `The image must hold the static agent at ${settings.agentPath}: build it with mags image build --oci.`,
      },
    );
  });
}

/**
 * A failed exec upgrade: the ws library reports the API's answer as "Unexpected server
 * response: 403" (node_modules/ws/lib/websocket.js) and keeps its Status body, so the status
 * alone is turned into the API's error.
 */
function execError(error: unknown, doing: KubernetesAction): MagsError {
  const message =
    error instanceof Error
      ? error.message
      : String((error as { message?: unknown } | undefined)?.message ?? error);
  const code = /Unexpected server response: (\d+)/.exec(message)?.[1];
  if (code) {
    return kubernetesApiError(
      new ApiException(Number(code), 'exec upgrade refused', { message }, {}),
      doing,
    );
  }
  return kubernetesApiError(error instanceof Error ? error : new Error(message), doing);
}
