import { setTimeout as sleep } from 'node:timers/promises';
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { MagsError } from '../../errors/mags-error.ts';
import { type KubernetesAction, kubernetesApiError } from './kubernetes-api-error.ts';

/**
 * Waiting reasons the kubelet reports that do not clear by themselves within a start
 * (https://kubernetes.io/docs/concepts/containers/images/#imagepullbackoff and the kubelet's
 * container states): a start stops at once with the reason instead of waiting out its timeout.
 */
const hopelessReasons = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
  'CrashLoopBackOff',
]);

export interface WaitForPodOptions {
  api: CoreV1Api;
  namespace: string;
  name: string;
  timeoutMs: number;
  /** Between two reads of the pod. */
  pollMs?: number;
  action: Omit<KubernetesAction, 'verb' | 'resource'>;
}

/**
 * Reads the pod until its container runs. Rejects with `sandbox_start_failed` naming the reason
 * (an image that cannot be pulled, a pod that failed, one still Pending at the timeout with the
 * scheduler's events) so the caller can delete it.
 */
export async function waitForPodRunning(options: WaitForPodOptions): Promise<V1Pod> {
  const deadline = performance.now() + options.timeoutMs;
  const read = { ...options.action, verb: 'get', resource: 'pods' } as const;
  for (;;) {
    const pod = await options.api
      .readNamespacedPod({ name: options.name, namespace: options.namespace })
      .catch((error: unknown) => {
        throw kubernetesApiError(error, read);
      });
    const phase = pod.status?.phase;
    const state = pod.status?.containerStatuses?.[0]?.state;
    if (phase === 'Running' && state?.running) return pod;
    if (phase === 'Failed' || phase === 'Succeeded' || state?.terminated) {
      const terminated = state?.terminated;
      const why =
        [pod.status?.reason, pod.status?.message, terminated?.reason, terminated?.message]
          .filter(Boolean)
          .join(': ') || `phase ${phase}`;
      throw startFailed(
        options,
        `its pod ${options.name} ended before it was ready (${why})`,
        "The image must hold the static agent, the pod's PID 1 (mags image build --oci puts it there).",
      );
    }
    const waiting = state?.waiting;
    if (waiting?.reason && hopelessReasons.has(waiting.reason)) {
      const pull = waiting.reason.includes('Image');
      throw startFailed(
        options,
        `its pod ${options.name} cannot start its container (${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''})`,
        pull
          ? 'Push the image to a registry the nodes can pull from (mags image build --oci writes it) and set --k8s-image (MAGS_K8S_IMAGE) to its reference.'
          : `See: kubectl describe pod ${options.name} -n ${options.namespace}`,
      );
    }
    if (performance.now() > deadline) {
      const events = await podEvents(options).catch(() => []);
      const scheduled = pod.status?.conditions?.find(
        (condition) => condition.type === 'PodScheduled',
      );
      const why = [
        `phase ${phase ?? 'unknown'}`,
        ...(scheduled?.status === 'False' && scheduled.message ? [scheduled.message] : []),
        ...(waiting?.reason
          ? [`${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`]
          : []),
        ...events,
      ].join('; ');
      throw startFailed(
        options,
        `its pod ${options.name} was not running after ${Math.round(options.timeoutMs / 1000)} s (${why})`,
        'The cluster may lack room for the limits asked, or the image is slow to pull: see kubectl describe pod, or raise MAGS_K8S_START_TIMEOUT_MS.',
      );
    }
    await sleep(options.pollMs ?? 500);
  }
}

/** The pod's warning events, newest last, in the kubelet's and the scheduler's words. */
async function podEvents(options: WaitForPodOptions): Promise<string[]> {
  const list = await options.api.listNamespacedEvent({
    namespace: options.namespace,
    fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${options.name}`,
  });
  return list.items
    .filter((event) => event.type === 'Warning')
    .map((event) => `${event.reason ?? 'Event'}: ${event.message ?? ''}`.trim())
    .slice(-5);
}

function startFailed(options: WaitForPodOptions, what: string, hint: string): MagsError {
  return new MagsError(`The sandbox did not start: ${what}.`, {
    code: 'sandbox_start_failed',
    statusCode: 503,
    ...(options.action.sandboxId ? { sandboxId: options.action.sandboxId } : {}),
    hint,
  });
}
