import type { z } from '@hono/zod-openapi';
import { parseDocument } from 'yaml';
import { InvalidInputError } from '../errors/mags-error.ts';
import { CreateTicketBodySchema } from './tickets.ts';

/** What a ticket file's front matter may say; the body (after it) is the request. */
const FrontMatterSchema = CreateTicketBodySchema.omit({ request: true, run: true }).partial();

export type TicketFile = z.infer<typeof FrontMatterSchema> & { request?: string };

/**
 * A `ticket.md`: YAML front matter between `---` lines (project, title, role, model, budget,
 * criteria: [{text, check}]) and the request as the body. A YAML error names its line in the
 * file; a field that is wrong names the field.
 *
 *     ---
 *     project: app
 *     title: Add --dark
 *     criteria:
 *       - text: npm test passes
 *         check: npm test
 *     ---
 *     Add a --dark flag that ...
 */
export function parseTicketFile(text: string, file: string): TicketFile {
  const match = /^---\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/.exec(text);
  if (!match) {
    throw new InvalidInputError(`${file} has no front matter.`, {
      hint: 'Start it with a --- line, the fields (project, title, criteria) in YAML, and another --- line; the request follows.',
    });
  }
  const document = parseDocument(match[1] as string);
  const error = document.errors[0];
  if (error) {
    // The front matter starts on the file's second line; YAML's own position (counted from the
    // front matter's first line) would contradict it, so it is left out of the message.
    const position = error.linePos?.[0];
    const line = (position?.line ?? 0) + 1;
    const where = position ? `line ${line}, column ${position.col}` : `line ${line}`;
    const message = (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    throw new InvalidInputError(`${file}, ${where}: bad front matter: ${message}.`, {
      hint: 'The front matter is YAML: key: value lines, criteria as a list of {text, check}.',
    });
  }
  const parsed = FrontMatterSchema.safeParse(document.toJS() ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidInputError(
      `${file}: front matter field ${issue?.path.join('.') || '(top)'}: ${issue?.message}`,
      {
        hint: 'Fields: project, title, role, model, budget {maxSteps, maxTokens, maxCostUsd, maxWallMs}, criteria [{text, check}].',
      },
    );
  }
  const request = text.slice(match[0].length).trim();
  return { ...parsed.data, ...(request ? { request } : {}) };
}
