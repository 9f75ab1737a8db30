/**
 * A plan as a person reads and edits it (`mags plan create --file`, `mags plan edit`,
 * `mags plan show --yaml`): YAML of the `PlanSpec`, tickets in order, each ticket's short fields
 * first and its request (often several lines) as a literal block. Parsing names what is wrong
 * by field path (`tickets[2].criteria[0].check`) and line; rendering then parsing gives the same
 * spec, and rendering that gives the same text.
 */
import type { z } from '@hono/zod-openapi';
import { Document, isNode, LineCounter, parseDocument } from 'yaml';
import { InvalidInputError } from '../errors/mags-error.ts';
import { type PlanSpec, PlanSpecSchema, type PlanTicketSpec } from './plans.ts';

const fieldsHint =
  'A plan file is YAML: summary, then tickets: a list of {key, title, request, criteria: [{text, check}], role, model, budget, dependsOn: [keys]}.';

/** `tickets[2].criteria[0].check` for zod's `['tickets', 2, 'criteria', 0, 'check']`. */
export function formatFieldPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else text += text ? `.${String(part)}` : String(part);
  }
  return text || '(the plan)';
}

/** Each problem of a value that is not a `PlanSpec`, as `path: message` (empty when it is one). */
export function planSpecProblems(
  value: unknown,
): { path: Array<string | number>; message: string }[] {
  const parsed = PlanSpecSchema.safeParse(value);
  if (parsed.success) return [];
  return parsed.error.issues.map((issue: z.core.$ZodIssue) => ({
    path: issue.path.filter((part) => typeof part !== 'symbol') as Array<string | number>,
    message: describeIssue(issue),
  }));
}

/** zod's message, with the names of unknown fields (its own says only "Unrecognized key"). */
function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return `unknown field${issue.keys.length === 1 ? '' : 's'} ${issue.keys.join(', ')}`;
  }
  return issue.message;
}

/** The most problems one error lists (a file wrong throughout would bury the first ones). */
export const maxListedProblems = 10;

/**
 * The plan in `text`, checked against `PlanSpecSchema` (the graph — unknown keys in `dependsOn`,
 * cycles — is the server's to check, as for a planner's plan). Broken YAML names its line and
 * column; a wrong field names its path and line. Every problem is listed (up to
 * `maxListedProblems`), so that one edit fixes them all. `file` names the source in messages.
 */
export function parsePlanFile(text: string, file = 'the plan file'): PlanSpec {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  if (document.errors.length > 0) {
    throw planFileError(
      file,
      document.errors.map((error) => {
        const position = lineCounter.linePos(error.pos[0]);
        const message = (error.message.split('\n')[0] ?? '').replace(
          / at line \d+, column \d+:?$/,
          '',
        );
        return `line ${position.line}, column ${position.col}: not valid YAML: ${message}.`;
      }),
    );
  }
  const value = document.toJS() ?? {};
  const problems = planSpecProblems(value);
  if (problems.length > 0) {
    throw planFileError(
      file,
      problems.map((problem) => {
        const line = lineOf(document, lineCounter, problem.path);
        return `${line ? `line ${line}: ` : ''}${formatFieldPath(problem.path)}: ${problem.message}`;
      }),
    );
  }
  return PlanSpecSchema.parse(value);
}

/** One problem as `file, line N: ...`; several as a list under `file has N problems:`. */
function planFileError(file: string, problems: string[]): InvalidInputError {
  const [first] = problems;
  if (problems.length === 1 && first !== undefined) {
    return new InvalidInputError(`${file}${first.startsWith('line ') ? ', ' : ': '}${first}`, {
      code: 'invalid_plan_file',
      hint: fieldsHint,
    });
  }
  const listed = problems.slice(0, maxListedProblems).map((problem) => `\n  ${problem}`);
  const more =
    problems.length > maxListedProblems
      ? `\n  (and ${problems.length - maxListedProblems} more)`
      : '';
  return new InvalidInputError(
    `${file} has ${problems.length} problems:${listed.join('')}${more}`,
    { code: 'invalid_plan_file', hint: fieldsHint },
  );
}

/** The line of the deepest node of `path` the document has (a missing field: its parent's). */
function lineOf(
  document: Document,
  lineCounter: LineCounter,
  path: Array<string | number>,
): number | undefined {
  for (let length = path.length; length >= 0; length--) {
    const node = length === 0 ? document.contents : document.getIn(path.slice(0, length), true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
  }
  return undefined;
}

/** The YAML of a plan, in a fixed field order; `header` lines become comments at the top. */
export function renderPlanFile(spec: PlanSpec, options: { header?: string } = {}): string {
  const plain = {
    summary: spec.summary,
    tickets: spec.tickets.map(orderedTicket),
  };
  const document = new Document(plain);
  if (options.header) {
    document.commentBefore = options.header
      .split('\n')
      .map((line) => (line ? ` ${line}` : ''))
      .join('\n');
  }
  // No folding (a request's lines stay as written); multi-line text as literal blocks.
  return document.toString({ lineWidth: 0, blockQuote: 'literal' });
}

/** Short fields first, the request and criteria last; empty `dependsOn` left out. */
function orderedTicket(ticket: PlanTicketSpec): Record<string, unknown> {
  return {
    key: ticket.key,
    title: ticket.title,
    ...(ticket.role !== undefined ? { role: ticket.role } : {}),
    ...(ticket.model !== undefined ? { model: ticket.model } : {}),
    ...(ticket.budget !== undefined ? { budget: ticket.budget } : {}),
    ...(ticket.dependsOn.length > 0 ? { dependsOn: ticket.dependsOn } : {}),
    request: ticket.request,
    criteria: ticket.criteria.map((criterion) => ({
      text: criterion.text,
      ...(criterion.check !== undefined ? { check: criterion.check } : {}),
    })),
  };
}
