import type { z } from '@hono/zod-openapi';
import { parseDocument } from 'yaml';
import { type CreateTicketBody, CreateTicketBodySchema } from '../../api/tickets.ts';
import { InvalidInputError } from '../../errors/mags-error.ts';

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
    // The front matter starts on the file's second line.
    const line = (error.linePos?.[0]?.line ?? 0) + 1;
    throw new InvalidInputError(
      `${file}, line ${line}: bad front matter: ${error.message.split('\n')[0]}`,
      { hint: 'The front matter is YAML: key: value lines, criteria as a list of {text, check}.' },
    );
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

/** The file's fields with the command line's on top; what is still missing is a clear error. */
export function ticketBody(fields: Partial<CreateTicketBody>): CreateTicketBody {
  const missing = (['project', 'title', 'request'] as const).filter((key) => !fields[key]);
  if (missing.length > 0) {
    throw new InvalidInputError(`A ticket needs ${missing.join(', ')}.`, {
      hint: 'mags ticket create -p PROJECT --title T --request TEXT --criterion TEXT [--check CMD], or --file ticket.md.',
    });
  }
  if (!fields.criteria || fields.criteria.length === 0) {
    throw new InvalidInputError('A ticket needs at least one criterion.', {
      hint: '--criterion TEXT [--check CMD] (repeatable), or criteria: in the ticket file.',
    });
  }
  return fields as CreateTicketBody;
}
