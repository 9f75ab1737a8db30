// Runs one workspace sync in its own process, so a test can SIGKILL it at any point.
import { createMagsContext } from '../../src/context/mags-context.ts';

await createMagsContext(process.env).sync.push(process.argv[2] as string);
