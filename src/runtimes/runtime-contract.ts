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

export function runRuntimeContract(name: string, options: RuntimeContractOptions): void {
  describe(`runtime contract: ${name}`, () => {
    let context:
      | Exclude<Awaited<ReturnType<RuntimeContractOptions['setup']>>, { skip: string }>
      | undefined;
    let skipReason: string | undefined;
    const sandboxes: Sandbox[] = [];

    before(async () => {
      const result = await options.setup();
      if ('skip' in result) skipReason = result.skip;
      else context = result;
    });
    after(async () => {
      await Promise.all(sandboxes.map((sandbox) => sandbox.stop()));
      await context?.cleanup();
    });

    const skips = namedSkips(options.skip);
    const harness: ContractHarness = {
      it: (title, body, requires) =>
        test(title, { skip: skips.reasonFor(title) ?? false }, async (t) => {
          if (skipReason) return t.skip(skipReason);
          if (requires && !context?.runtime.capabilities[requires]) {
            return t.skip(`the runtime does not declare the capability ${requires}`);
          }
          await body(t);
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
