import type { RuntimeCapabilities } from '../runtime.ts';

/** What the kubernetes runtime offers (a module of its own: loading it loads no client). */
export const kubernetesCapabilities: RuntimeCapabilities = {
  // Egress through the pod's network, filtered by its NetworkPolicy.
  network: true,
  // The agent allocates the terminal inside the pod, as in every runtime.
  tty: true,
  // Memory and cpu per pod (requests = limits), disk by ephemeral-storage (past it the kubelet
  // evicts the pod, where other runtimes give ENOSPC). NOT the process count: that is the node's
  // podPidsLimit, which a namespaced Role cannot read; every sandbox and check() warn of it, and
  // the README says so (Runtime capabilities are per runtime, runtime.ts).
  resourceLimits: true,
  // In-place resize (beta in 1.33) is not used yet.
  setLimits: false,
  pause: false,
  prepare: false,
  // The pod's agent (PID 1) outlives every exec stream: pods are listed by label and attached
  // again, and durable execs run on meanwhile.
  reattach: true,
  // At a server start: this host's pods that cannot run (Pending, Failed) and orphaned policies.
  sweep: true,
  // A NetworkPolicy holds address ranges, not host names; CIDR rules alone are honoured.
  egressAllowList: false,
  // Through the agent's connecting EXEC, as for namespace sandboxes.
  ports: true,
  // Only /workspace goes into the pod and back (pod-workspace.ts).
  wholeFilesystemPersists: false,
};
