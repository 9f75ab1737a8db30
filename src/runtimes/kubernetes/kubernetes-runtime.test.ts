/**
 * The runtime contract against a REAL cluster: runs when KUBECONFIG names one and MAGS_K8S_IMAGE
 * an image its nodes can pull (mags image build --oci, pushed), in MAGS_K8S_NAMESPACE (default
 * mags-sandboxes, which must exist, with a CNI that enforces NetworkPolicies). Skipped with the
 * reason otherwise: no API server can run on the machines this project is built on, where the
 * recorded-exchange tests (kubernetes-runtime.recorded.test.ts) stand in.
 */
import { runRuntimeContract } from '../runtime-contract.ts';
import { createKubernetesRuntime } from './kubernetes-runtime.ts';
import { kubernetesSettings } from './kubernetes-settings.ts';

runRuntimeContract('kubernetes', {
  async setup() {
    const skip = (reason: string) => {
      process.stdout.write(`# skipping the kubernetes runtime contract: ${reason}\n`);
      return { skip: reason };
    };
    if (!process.env.KUBECONFIG) return skip('KUBECONFIG is not set (no cluster to run pods on)');
    if (!process.env.MAGS_K8S_IMAGE) {
      return skip('MAGS_K8S_IMAGE is not set (build with mags image build --oci and push it)');
    }
    const runtime = createKubernetesRuntime({ settings: kubernetesSettings(process.env) });
    const check = await runtime.check();
    if (!check.ok) return skip(check.problems.join('; '));
    return { runtime, image: { name: 'default' }, cleanup: async () => {} };
  },
  skip: [
    {
      reason:
        'a pod always has its network interface: egress is denied by its NetworkPolicy, not by ' +
        'having no interface (the recorded-exchange tests check the policy)',
      tests: ['has no network but loopback unless asked'],
    },
    {
      reason:
        "a pod's process limit is the node's (kubelet podPidsLimit): the pod spec has no field for it",
      tests: ['stops a fork bomb with the process limit'],
    },
    {
      reason:
        'ephemeral-storage past its limit gets the pod evicted by the kubelet, not ENOSPC for the writer',
      tests: [
        'limits the throw-away layer to diskMiB: ENOSPC past it, usable again after deleting',
      ],
    },
  ],
});
