/**
 * An evaluation fixture (eval/fixtures/NAME/): a tiny repository with a bug or a missing feature,
 * the ticket that asks for the fix, hidden tests the agent never sees, and the known fix.
 *
 *     repo/         the files that become the project's git repository (tests/ is visible)
 *     ticket.md     YAML front matter (title, criteria with checks, budget) + the request
 *     hidden/       hidden tests (*.test.js|ts) and tests.json: { failToPass, passToPass }
 *     fix/          the known fix as an overlay on repo/ (whole files), for the oracle
 *
 * Hidden tests import the code as `../src/...`: they are copied to `hidden-tests/` at the
 * repository's root, one level down like `tests/`, only after the agent has ended.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { BudgetSchema, CriterionSchema } from '../src/api/tickets.ts';

export const fixturesDirectory = join(import.meta.dirname, 'fixtures');
/** Where the hidden tests go in the repository, after the agent ends. */
export const hiddenTestsDirectory = 'hidden-tests';

export interface FixtureFile {
  /** Relative to the repository's root, with `/`. */
  path: string;
  content: Buffer;
}

export interface HiddenTests {
  files: FixtureFile[];
  /** Test names that fail before the fix and must pass after it. */
  failToPass: string[];
  /** Test names that pass before the fix and must still pass after it. */
  passToPass: string[];
}

export interface FixtureTicket {
  title: string;
  request: string;
  criteria: z.infer<typeof CriterionSchema>[];
  budget?: z.infer<typeof BudgetSchema>;
}

export interface Fixture {
  name: string;
  directory: string;
  ticket: FixtureTicket;
  repository: FixtureFile[];
  hidden: HiddenTests;
  /** The known fix: files of the repository with their fixed content. */
  fix: FixtureFile[];
}

const FrontMatterSchema = z.strictObject({
  title: z.string().trim().min(1),
  criteria: z.array(CriterionSchema).min(1),
  budget: BudgetSchema.optional(),
});

const HiddenManifestSchema = z.strictObject({
  failToPass: z.array(z.string().min(1)).min(1),
  passToPass: z.array(z.string().min(1)),
});

/** Every fixture, by name. */
export async function loadFixtures(only?: readonly string[]): Promise<Fixture[]> {
  const names = (await readdir(fixturesDirectory, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  const unknown = (only ?? []).filter((name) => !names.includes(name));
  if (unknown.length > 0) {
    throw new Error(`No fixture named ${unknown.join(', ')}; the fixtures: ${names.join(', ')}.`);
  }
  const wanted = only && only.length > 0 ? names.filter((name) => only.includes(name)) : names;
  return Promise.all(wanted.map((name) => loadFixture(name)));
}

export async function loadFixture(name: string): Promise<Fixture> {
  const directory = join(fixturesDirectory, name);
  const ticketText = await readFile(join(directory, 'ticket.md'), 'utf8');
  const hiddenFiles = await filesUnder(join(directory, 'hidden'));
  const manifest = hiddenFiles.find((file) => file.path === 'tests.json');
  if (!manifest) throw new Error(`The fixture ${name} has no hidden/tests.json.`);
  const { failToPass, passToPass } = HiddenManifestSchema.parse(
    JSON.parse(manifest.content.toString('utf8')),
  );
  return {
    name,
    directory,
    ticket: parseTicketText(ticketText, `${name}/ticket.md`),
    repository: await filesUnder(join(directory, 'repo')),
    hidden: {
      files: hiddenFiles
        .filter((file) => file !== manifest)
        .map((file) => ({ ...file, path: `${hiddenTestsDirectory}/${file.path}` })),
      failToPass,
      passToPass,
    },
    fix: await filesUnder(join(directory, 'fix')),
  };
}

/** `---\nYAML\n---\nbody`: the front matter's fields and the body as the request. */
export function parseTicketText(text: string, source: string): FixtureTicket {
  const match = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(text);
  if (!match) throw new Error(`${source}: no front matter (--- YAML --- then the request).`);
  const fields = FrontMatterSchema.safeParse(parseYaml(match[1] ?? ''));
  if (!fields.success) {
    throw new Error(`${source}: bad front matter: ${z.prettifyError(fields.error)}`);
  }
  const request = (match[2] ?? '').trim();
  if (request === '')
    throw new Error(`${source}: the request (the text after the front matter) is empty.`);
  return { ...fields.data, request };
}

async function filesUnder(root: string): Promise<FixtureFile[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const files = entries.filter((entry) => entry.isFile());
  const read = await Promise.all(
    files.map(async (entry) => {
      const path = join(entry.parentPath, entry.name);
      return { path: relative(root, path).split('\\').join('/'), content: await readFile(path) };
    }),
  );
  return read.sort((a, b) => a.path.localeCompare(b.path));
}
