/**
 * The contract every runtime passes (like Hono's `runTest({ newRouter })`): a runtime's own test
 * file calls `runRuntimeContract` with a factory, and gets the same checks as every other runtime.
 * The tests live by topic in `contract/`: commands and files, isolation and limits, the
 * sandbox's life (prepare, pause, detach and attach, stop).
 */
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type ContractSkip, namedSkips } from '../testing/contract-skips.ts';
import { registerCommandContract } from './contract/command-contract.ts';
import type { ContractHarness } from './contract/contract-harness.ts';
import { registerIsolationContract } from './contract/isolation-contract.ts';
import { registerLifecycleContract } from './contract/lifecycle-contract.ts';
import { registerPortContract } from './contract/port-contract.ts';
import type { ImageReference, Runtime, Sandbox } from './runtime.ts';

export { type Collected, collect, shell } from './contract/contract-harness.ts';

export interface RuntimeContractOptions {
  /**
   * Creates the runtime and names an image it can start (the runtime's layer provider finds it),
   * or returns a reason to skip the whole suite on this host (a missing image, not root, ...).
   */
  setup: () => Promise<
    { runtime: Runtime; image: ImageReference; cleanup: () => Promise<void> } | { skip: string }
  >;
  /**
   * Tests this runtime cannot pass, by title, with the reason. Tests of an optional feature skip
   * by themselves when the runtime does not declare its capability.
   */
  skip?: ContractSkip[];
}

/** Far above a TCG VM's slowest contract test (about a minute), far below CI's time. */
const testTimeoutMs = 10 * 60_000;

export function runRuntimeContract(name: string, options: RuntimeContractOptions): void {
  describe(`runtime contract: ${name}`, () => {
    let context:
      | Exclude<Awaited<ReturnType<RuntimeContractOptions['setup']>>, { skip: string }>
      | undefined;
    let skipReason: string | undefined;
    // Sandboxes of the running test (the tests run one at a time): stopped when it ends, so a
    // fork bomb left spinning in one VM does not starve the next test of the host's CPU (under
    // TCG that made the memory-hog test hang CI for its whole time limit).
    let sandboxes: Sandbox[] = [];

    before(async () => {
      const result = await options.setup();
      if ('skip' in result) skipReason = result.skip;
      else context = result;
    });
    const stopSandboxes = async () => {
      const stopping = sandboxes;
      sandboxes = [];
      await Promise.all(stopping.map((sandbox) => sandbox.stop()));
    };
    after(async () => {
      await stopSandboxes();
      await context?.cleanup();
    });

    const skips = namedSkips(options.skip);
    const harness: ContractHarness = {
      it: (title, body, requires) =>
        // A bound per test: a runtime that hangs fails its test rather than the whole run's time.
        test(title, {
          skip: skips.reasonFor(title) ?? false,
          timeout: testTimeoutMs,
        }, async (t) => {
          if (skipReason) return t.skip(skipReason);
          if (requires && !context?.runtime.capabilities[requires]) {
            return t.skip(`the runtime does not declare the capability ${requires}`);
          }
          try {
            await body(t);
          } finally {
            await stopSandboxes();
          }
        }),
      async start(overrides = {}) {
        const { runtime, image } = harness.subject();
        const sandbox = await runtime.start({
          id: `contract-${randomBytes(4).toString('hex')}`,
          image,
          limits: { memoryMiB: 512, cpus: 1, pidsMax: 256 },
          network: { egress: 'none' },
          ...overrides,
        });
        sandboxes.push(sandbox);
        return sandbox;
      },
      subject() {
        if (!context) throw new Error('no runtime');
        return { runtime: context.runtime, image: context.image };
      },
      track: (sandbox) => sandboxes.push(sandbox),
    };

    registerCommandContract(harness);
    registerIsolationContract(harness);
    registerLifecycleContract(harness);
    registerPortContract(harness);

    skips.registerCheck();
  });
}
