import { CoreV1Api, KubeConfig, NetworkingV1Api } from '@kubernetes/client-node';
import { type IdMapping, identityIdMapping } from '../../config/id-mapping.ts';
import { InvalidInputError, MagsError, NotFoundError } from '../../errors/mags-error.ts';
import type { Runtime, RuntimeCheck, Sandbox, SandboxInfo, SandboxSpec } from '../runtime.ts';
import type { HostStores } from '../runtime-factory.ts';
import { connectPodAgent } from './connect-pod-agent.ts';
import { isNotFound, type KubernetesAction, kubernetesApiError } from './kubernetes-api-error.ts';
import { kubernetesCapabilities } from './kubernetes-capabilities.ts';
import { sandboxNetworkPolicy } from './kubernetes-network-policy.ts';
import { hostLabel, podName, sandboxLabel, sandboxPod } from './kubernetes-pod-spec.ts';
import { hostUsersDropped, kubernetesWarnings, warnOnce } from './kubernetes-runtime-warnings.ts';
import { kubernetesSandbox } from './kubernetes-sandbox.ts';
import type { KubernetesSettings } from './kubernetes-settings.ts';
import { openPodWorkspace, restoreIntoPod, syncBackFromPod } from './pod-workspace.ts';
import {
  isLeftoverPod,
  isLivePod,
  podSandboxInfo,
  podSandboxLabels,
  podWorkspace,
  sandboxPodSelector,
} from './sandbox-pods.ts';
import { waitForPodRunning } from './wait-for-pod.ts';

export interface KubernetesRuntimeOptions {
  settings: KubernetesSettings;
  /**
   * The cluster and credentials; default: the kubeconfig `KUBECONFIG` names, `~/.kube/config`,
   * or the pod's service account when mags runs in the cluster (client-node's loadFromDefault).
   * Called at first use: the factory does no I/O.
   */
  kubeConfig?: () => KubeConfig;
  /** Between two reads of a starting pod. */
  pollMs?: number;
  /** Where workspaces are on this host; none: a spec with a workspace is refused. */
  stores?: HostStores;
  /** How the stores' files' owners map to the sandbox's ids (default: identity). */
  idMapping?: IdMapping;
  /**
   * Whether this host process can build a workspace's layers (loop disks, `setpriv` to the
   * sandbox's ids): root only. Default: `process.getuid() === 0`; tests pretend otherwise.
   */
  hostIsRoot?: () => boolean;
}

/**
 * The `kubernetes` runtime: a pod per sandbox in one namespace (`mags-sandboxes`), each with its
 * own NetworkPolicy; the guest protocol runs over the pod's exec stream, relayed by
 * `mags-agent --connect` to the agent that is the pod's PID 1 (docs/design.md, "The kubernetes
 * runtime"). Authentication is the API server's: the exec subresource needs RBAC `create` on
 * `pods/exec`. A workspace's `/workspace` is copied into the pod and back (pod-workspace.ts).
 * The factory does no I/O.
 */
export function createKubernetesRuntime(options: KubernetesRuntimeOptions): Runtime {
  const { settings } = options;
  const idMapping = options.idMapping ?? identityIdMapping;
  let loaded: { config: KubeConfig; core: CoreV1Api; networking: NetworkingV1Api } | undefined;
  const cluster = () => {
    if (loaded) return loaded;
    const config = options.kubeConfig?.() ?? defaultKubeConfig(settings.context);
    loaded = {
      config,
      core: config.makeApiClient(CoreV1Api),
      networking: config.makeApiClient(NetworkingV1Api),
    };
    return loaded;
  };
  const server = () =>
    cluster().config.getCurrentCluster()?.server ?? '(no cluster in the kubeconfig)';
  const action = (
    verb: KubernetesAction['verb'],
    resource: string,
    sandboxId?: string,
  ): KubernetesAction => ({
    verb,
    resource,
    namespace: settings.namespace,
    server: server(),
    ...(sandboxId ? { sandboxId } : {}),
  });

  const remove = async (id: string): Promise<void> => {
    const { core, networking } = cluster();
    const name = podName(id);
    const namespace = settings.namespace;
    // The pod first: its processes end with it; the policy goes once nothing uses it.
    await core
      .deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 })
      .catch((error: unknown) => {
        if (!isNotFound(error)) throw kubernetesApiError(error, action('delete', 'pods', id));
      });
    await networking.deleteNamespacedNetworkPolicy({ name, namespace }).catch((error: unknown) => {
      if (!isNotFound(error)) {
        throw kubernetesApiError(error, action('delete', 'networkpolicies', id));
      }
    });
  };

  /** After a dropped exec stream: the pod's agent again if the pod runs, else undefined. */
  const reconnect = async (id: string) => {
    const { config, core } = cluster();
    const pod = await core
      .readNamespacedPod({ name: podName(id), namespace: settings.namespace })
      .catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw kubernetesApiError(error, action('get', 'pods', id));
      });
    if (!pod || !isLivePod(pod)) return undefined;
    return connectPodAgent(config, settings, id, action('create', 'pods/exec', id));
  };

  const ownPods = async () => {
    const pods = await cluster()
      .core.listNamespacedPod({
        namespace: settings.namespace,
        labelSelector: sandboxPodSelector(settings.hostId),
      })
      .catch((error: unknown) => {
        throw kubernetesApiError(error, action('list', 'pods'));
      });
    // The selector already says so; a pod of another host is never ours, whatever answered.
    return pods.items.filter((pod) => pod.metadata?.labels?.[hostLabel] === settings.hostId);
  };

  return {
    specificationVersion: 'runtime-v2',
    name: 'kubernetes',
    capabilities: kubernetesCapabilities,
    async check(): Promise<RuntimeCheck> {
      const problems: string[] = [];
      if (!settings.image) {
        problems.push(
          'No sandbox image is set: build one with mags image build --oci, push it, and set --k8s-image (MAGS_K8S_IMAGE)',
        );
      }
      try {
        // What start needs first, and a Role grants in the namespace alone.
        await cluster().core.listNamespacedPod({ namespace: settings.namespace, limit: 1 });
      } catch (error) {
        const explained = kubernetesApiError(error, action('list', 'pods'));
        problems.push(`${explained.message} (${explained.hint})`);
      }
      return { ok: problems.length === 0, problems, warnings: kubernetesWarnings(settings) };
    },
    async start(spec: SandboxSpec): Promise<Sandbox> {
      const image = imageFor(spec, settings);
      if (spec.workspace && !options.stores) {
        throw new InvalidInputError('This kubernetes runtime was given no workspace stores.', {
          code: 'workspace_unsupported',
          sandboxId: spec.id,
          hint: 'Run without a workspace, or on the namespace or qemu runtime.',
        });
      }
      const hostIsRoot = options.hostIsRoot ?? (() => process.getuid?.() === 0);
      if (spec.workspace && !hostIsRoot()) {
        // The host-side workspace store makes loop disks and copies as the sandbox's root
        // (pod-workspace.ts): a raw EPERM from mkfs or setpriv would tell the user nothing.
        throw new MagsError(
          `This host runs as uid ${process.getuid?.()}, not root: the kubernetes runtime cannot hold workspace ${spec.workspace.name} here.`,
          {
            code: 'workspace_unsupported',
            statusCode: 501,
            sandboxId: spec.id,
            hint: 'Workspaces on the kubernetes runtime need a host running as root with loop devices (mkfs, mount -o loop) and setpriv; the shipped deploy/kubernetes host does not. Run without -w/-p there, or on a namespace or qemu host.',
          },
        );
      }
      // Built before anything is created: a spec the cluster cannot enforce is refused whole.
      const policy = sandboxNetworkPolicy(spec, settings);
      const pod = sandboxPod(spec, settings, image);
      const { config, core, networking } = cluster();
      const namespace = settings.namespace;
      // The workspace is held (locked) from here to the sandbox's end.
      const workspace = options.stores ? await openPodWorkspace(options.stores, spec) : undefined;
      // The policy first, so the pod never runs a moment without it.
      try {
        await networking
          .createNamespacedNetworkPolicy({ namespace, body: policy, fieldValidation: 'Strict' })
          .catch((error: unknown) => {
            throw kubernetesApiError(error, action('create', 'networkpolicies', spec.id));
          });
      } catch (error) {
        await workspace?.release();
        throw error;
      }
      try {
        const created = await core
          .createNamespacedPod({ namespace, body: pod, fieldValidation: 'Strict' })
          .catch((error: unknown) => {
            throw kubernetesApiError(error, action('create', 'pods', spec.id));
          });
        // An API server without the UserNamespacesSupport gate drops hostUsers on create
        // (pkg/api/pod/util.go dropDisabledFields): the pod would run as the node's root.
        if (!settings.hostUsers && created.spec?.hostUsers !== false) {
          throw hostUsersDropped(spec.id, settings);
        }
        await waitForPodRunning({
          api: core,
          namespace,
          name: podName(spec.id),
          timeoutMs: settings.startTimeoutMs,
          ...(options.pollMs ? { pollMs: options.pollMs } : {}),
          action: { namespace, server: server(), sandboxId: spec.id },
        });
        const client = await connectPodAgent(
          config,
          settings,
          spec.id,
          action('create', 'pods/exec', spec.id),
        );
        if (workspace) {
          await restoreIntoPod(client, workspace, idMapping, settings.workspacePath).catch(
            (error: unknown) => {
              client.close();
              throw error;
            },
          );
        }
        return kubernetesSandbox({
          id: spec.id,
          labels: spec.labels ?? {},
          ...(spec.workspace ? { workspace: spec.workspace } : {}),
          client,
          reconnect: () => reconnect(spec.id),
          warnings: [
            `The process limit (${spec.limits.pidsMax}) is the node's (kubelet podPidsLimit), not the sandbox's.`,
          ],
          syncBack: workspace?.writable
            ? (live) => syncBackFromPod(live, workspace, idMapping, settings.workspacePath)
            : undefined,
          remove: async () => {
            try {
              await remove(spec.id);
            } finally {
              await workspace?.release();
            }
          },
          release: async () => workspace?.release(),
        });
      } catch (error) {
        // Nothing of a failed start is left behind; the start's own error is the one reported.
        await remove(spec.id).catch(() => {});
        await workspace?.release();
        throw error;
      }
    },
    async list(): Promise<SandboxInfo[]> {
      // Unset up, this server has no cluster to ask (and a server start lists every runtime).
      if (!settings.image) return [];
      warnOnce(settings);
      return (await ownPods()).filter(isLivePod).flatMap((pod) => podSandboxInfo(pod) ?? []);
    },
    async sweep(): Promise<number> {
      // At a server start, before this host starts anything: what its dead servers left.
      if (!settings.image) return 0;
      const pods = await ownPods();
      let removed = 0;
      for (const pod of pods.filter(isLeftoverPod)) {
        const id = podSandboxInfo(pod)?.id;
        if (!id) continue;
        await remove(id);
        removed++;
      }
      // A policy created by a start that died before its pod was: no pod has its sandbox id.
      const podIds = new Set(pods.flatMap((pod) => podSandboxInfo(pod)?.id ?? []));
      const policies = await cluster()
        .networking.listNamespacedNetworkPolicy({
          namespace: settings.namespace,
          labelSelector: sandboxPodSelector(settings.hostId),
        })
        .catch((error: unknown) => {
          throw kubernetesApiError(error, action('list', 'networkpolicies'));
        });
      for (const policy of policies.items) {
        const id = policy.metadata?.labels?.[sandboxLabel];
        if (!id || podIds.has(id)) continue;
        await remove(id);
        removed++;
      }
      return removed;
    },
    async attach(id: string): Promise<Sandbox> {
      const { config, core } = cluster();
      const pod = await core
        .readNamespacedPod({ name: podName(id), namespace: settings.namespace })
        .catch((error: unknown) => {
          if (isNotFound(error)) return undefined;
          throw kubernetesApiError(error, action('get', 'pods', id));
        });
      if (!pod || !isLivePod(pod)) {
        throw new NotFoundError(`No running sandbox ${id} in namespace ${settings.namespace}.`, {
          code: 'sandbox_not_found',
          sandboxId: id,
          hint: `Its pod ended or was deleted (kubectl get pods -n ${settings.namespace}).`,
        });
      }
      const reference = podWorkspace(pod);
      // Held again as the process that started it held it (the copy back at the stop is ours).
      const workspace =
        reference && options.stores
          ? await openPodWorkspace(
              options.stores,
              {
                workspace: reference,
                image: { name: 'default' },
                limits: { memoryMiB: 0, cpus: 0, pidsMax: 0 },
              },
              { attach: true },
            )
          : undefined;
      try {
        const client = await connectPodAgent(
          config,
          settings,
          id,
          action('create', 'pods/exec', id),
        );
        return kubernetesSandbox({
          id,
          labels: podSandboxLabels(pod),
          ...(reference ? { workspace: reference } : {}),
          client,
          reconnect: () => reconnect(id),
          warnings: [],
          syncBack: workspace?.writable
            ? (live) => syncBackFromPod(live, workspace, idMapping, settings.workspacePath)
            : undefined,
          remove: async () => {
            try {
              await remove(id);
            } finally {
              await workspace?.release();
            }
          },
          release: async () => workspace?.release(),
        });
      } catch (error) {
        await workspace?.release();
        throw error;
      }
    },
  };
}

function defaultKubeConfig(context: string | undefined): KubeConfig {
  const config = new KubeConfig();
  config.loadFromDefault();
  if (context) config.setCurrentContext(context);
  return config;
}

/** The pod's image: the one `--k8s-image` names stands for the default base image. */
function imageFor(spec: SandboxSpec, settings: KubernetesSettings): string {
  if (!settings.image) {
    throw new MagsError('The kubernetes runtime has no sandbox image to run.', {
      code: 'dependency_missing',
      statusCode: 503,
      sandboxId: spec.id,
      hint: 'Build one with mags image build --oci, push it to a registry the cluster pulls from, and set --k8s-image (MAGS_K8S_IMAGE) to it.',
    });
  }
  if (spec.image.name !== 'default') {
    throw new InvalidInputError(
      `The kubernetes runtime runs one image (${settings.image}), not ${JSON.stringify(spec.image.name)}.`,
      {
        sandboxId: spec.id,
        hint: 'Leave the image out, or build and push that image and point --k8s-image at it.',
      },
    );
  }
  return settings.image;
}
