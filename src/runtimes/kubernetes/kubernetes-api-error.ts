import { ApiException } from '@kubernetes/client-node';
import { MagsError } from '../../errors/mags-error.ts';

/** What the runtime was doing when the API failed, in RBAC's words (`create` `pods/exec`). */
export interface KubernetesAction {
  verb: 'create' | 'get' | 'list' | 'watch' | 'delete';
  /** A resource as a Role names it: `pods`, `pods/exec`, `networkpolicies`, `events`. */
  resource: string;
  namespace: string;
  /** The API server, for an unreachable one. */
  server: string;
  sandboxId?: string;
}

/**
 * The verbs to grant. An exec over WebSocket starts as a GET, which API servers authorise as
 * `get pods/exec` until the AuthorizePodWebsocketUpgradeCreatePermission gate (KEP-4006, beta in
 * 1.35) makes it `create`: a Role needs both to work on either.
 */
function verbsFor(action: KubernetesAction): string {
  return action.resource === 'pods/exec'
    ? 'the verbs "create" and "get"'
    : `the verb "${action.verb}"`;
}

/** The API group a Role grants a resource in (`""` is the core group). */
function apiGroup(resource: string): string {
  return resource === 'networkpolicies' ? 'networking.k8s.io' : '""';
}

/**
 * An error of the Kubernetes API (client-node's `ApiException`, or a connection that failed) as
 * a MagsError saying what was refused and what to grant or fix. A 403 names the permission the
 * server's account lacks, as `kubectl auth can-i` checks it.
 */
export function kubernetesApiError(error: unknown, action: KubernetesAction): MagsError {
  if (error instanceof MagsError) return error;
  const doing = `${action.verb} ${action.resource} in namespace ${action.namespace}`;
  const common = {
    statusCode: 503,
    ...(action.sandboxId ? { sandboxId: action.sandboxId } : {}),
    cause: error,
  };
  const status = statusOf(error);
  if (status === undefined) {
    const reason = describeCause(error);
    return new MagsError(
      `The Kubernetes API server at ${action.server} cannot be reached (${reason}).`,
      {
        ...common,
        code: 'kubernetes_unreachable',
        retryable: true,
        hint: 'Check the cluster is up and the kubeconfig (KUBECONFIG, MAGS_K8S_CONTEXT) points at it: kubectl cluster-info',
      },
    );
  }
  const said = status.message ? `: ${status.message}` : '';
  if (status.code === 403) {
    return new MagsError(`The Kubernetes API refused to let mags ${doing} (403 Forbidden)${said}`, {
      ...common,
      code: 'kubernetes_forbidden',
      hint: `Grant the account the server runs as ${verbsFor(action)} on "${action.resource}" (API group ${apiGroup(action.resource)}) in a Role bound in ${action.namespace}; check with: kubectl auth can-i ${action.verb} ${action.resource} -n ${action.namespace}`,
    });
  }
  if (status.code === 401) {
    return new MagsError(`The Kubernetes API did not accept mags's credentials (401)${said}`, {
      ...common,
      code: 'kubernetes_unauthorized',
      hint: "Renew the credentials in the kubeconfig (KUBECONFIG), or the pod's service account token.",
    });
  }
  return new MagsError(
    `The Kubernetes API failed to ${doing} (${status.code}${status.reason ? ` ${status.reason}` : ''})${said}`,
    {
      ...common,
      code: 'kubernetes_api_error',
      retryable: status.code >= 500 || status.code === 429,
      hint:
        // A create answered 404 has no namespace to create in; a missing object is its caller's.
        status.code === 404 && action.verb === 'create'
          ? `Create the namespace the sandboxes live in: kubectl create namespace ${action.namespace} (or set MAGS_K8S_NAMESPACE)`
          : `The message above is the API server's; kubectl get events -n ${action.namespace} may say more.`,
    },
  );
}

/** True for an API answer 404 (an object already gone, say). */
export function isNotFound(error: unknown): boolean {
  return statusOf(error)?.code === 404;
}

/** The API's `Status` of a failed call (https://kubernetes.io/docs/reference/using-api/api-concepts/#response-status-kind). */
function statusOf(error: unknown): { code: number; reason?: string; message?: string } | undefined {
  if (!(error instanceof ApiException)) return undefined;
  const raw: unknown = (error as ApiException<unknown>).body;
  let body: unknown = raw;
  if (typeof raw === 'string') {
    try {
      body = JSON.parse(raw);
    } catch {
      body = { message: raw.slice(0, 500) };
    }
  }
  const fields = (body ?? {}) as { reason?: unknown; message?: unknown };
  return {
    code: error.code,
    ...(typeof fields.reason === 'string' ? { reason: fields.reason } : {}),
    ...(typeof fields.message === 'string' ? { message: fields.message } : {}),
  };
}

/** The innermost cause's message: undici's "fetch failed" hides ECONNREFUSED below it. */
function describeCause(error: unknown): string {
  let current: unknown = error;
  while (current instanceof Error && current.cause instanceof Error) current = current.cause;
  return current instanceof Error ? current.message : String(current);
}
