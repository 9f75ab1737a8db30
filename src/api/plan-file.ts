/**
 * A plan as a person reads and edits it (`mags plan create --file`, `mags plan edit`,
 * `mags plan show --yaml`): YAML of the `PlanSpec`, tickets in order, each ticket's short fields
 * first and its request (often several lines) as a literal block. Parsing names what is wrong
 * by field path (`tickets[2].criteria[0].check`) and line; rendering then parsing gives the same
 * spec, and rendering that gives the same text.
 */
import type { z } from '@hono/zod-openapi';
import { Document, isMap, isNode, isScalar, LineCounter, parseDocument } from 'yaml';
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
): { path: Array<string | number>; message: string; key?: string }[] {
  const parsed = PlanSpecSchema.safeParse(value);
  if (parsed.success) return [];
  return parsed.error.issues.map((issue: z.core.$ZodIssue) => {
    const path = issue.path.filter((part) => typeof part !== 'symbol') as Array<string | number>;
    return {
      path,
      message: describeIssue(issue, path),
      // An unknown field's line is its own, not its ticket's first.
      ...(issue.code === 'unrecognized_keys' && { key: issue.keys[0] }),
    };
  });
}

/** Every field name a plan file has (at any depth): what a misspelt one is matched against. */
const knownFields = [
  'summary',
  'tickets',
  'key',
  'title',
  'request',
  'criteria',
  'text',
  'check',
  'role',
  'model',
  'budget',
  'dependsOn',
  'maxSteps',
  'maxTokens',
  'maxCostUsd',
  'maxWallMs',
];

/** The known field a misspelt one means: the same but for case and `_`/`-`, or 1-2 edits off. */
export function closeField(name: string): string | undefined {
  const plain = (word: string) => word.toLowerCase().replace(/[_-]/g, '');
  const same = knownFields.find((known) => plain(known) === plain(name));
  if (same) return same;
  const near = knownFields
    .map((known) => ({ known, distance: editDistance(plain(known), plain(name)) }))
    .filter(({ known, distance }) => distance <= (known.length > 5 ? 2 : 1))
    .sort((a, b) => a.distance - b.distance);
  return near[0]?.known;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * zod's message, with the names of unknown fields (its own says only "Unrecognized key") and the
 * known one a misspelt field is close to; a dependsOn that is not a list shows the form.
 */
function describeIssue(issue: z.core.$ZodIssue, path: Array<string | number>): string {
  if (issue.code === 'unrecognized_keys') {
    const names = issue.keys.map((name) => {
      const close = closeField(name);
      return close ? `${name} (did you mean ${close}?)` : name;
    });
    return `unknown field${issue.keys.length === 1 ? '' : 's'} ${names.join(', ')}`;
  }
  if (issue.code === 'invalid_type' && path.at(-1) === 'dependsOn') {
    return 'a list of keys, e.g. [schema] or [schema, api]';
  }
  return issue.message;
}

/** The most problems one error lists (a file wrong throughout would bury the first ones). */
export const maxListedProblems = 10;

/**
 * The plan in `text`, checked against `PlanSpecSchema` (the graph — unknown keys in `dependsOn`,
 * cycles — is checked after, by the server and by the CLI's `parsePlanFileChecked`). Broken YAML names its line and
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
        const line =
          (problem.key !== undefined &&
            lineOfKey(document, lineCounter, problem.path, problem.key)) ||
          lineOf(document, lineCounter, problem.path);
        return `${line ? `line ${line}: ` : ''}${formatFieldPath(problem.path)}: ${problem.message}`;
      }),
    );
  }
  return PlanSpecSchema.parse(value);
}

/**
 * A problem found after parsing (the graph: a cycle, an unknown dependency, a duplicate key), as
 * `file, line N: path: message` like a field's, the line that of `path` in `text`.
 */
export function planFileProblem(
  text: string,
  file: string,
  problem: { path: Array<string | number>; message: string; hint: string },
): InvalidInputError {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  const line = lineOf(document, lineCounter, problem.path);
  return planFileError(
    file,
    [`${line ? `line ${line}: ` : ''}${formatFieldPath(problem.path)}: ${problem.message}`],
    problem.hint,
  );
}

/** One problem as `file, line N: ...`; several as a list under `file has N problems:`. */
function planFileError(file: string, problems: string[], hint = fieldsHint): InvalidInputError {
  const [first] = problems;
  if (problems.length === 1 && first !== undefined) {
    return new InvalidInputError(`${file}${first.startsWith('line ') ? ', ' : ': '}${first}`, {
      code: 'invalid_plan_file',
      hint,
    });
  }
  const listed = problems.slice(0, maxListedProblems).map((problem) => `\n  ${problem}`);
  const more =
    problems.length > maxListedProblems
      ? `\n  (and ${problems.length - maxListedProblems} more)`
      : '';
  return new InvalidInputError(
    `${file} has ${problems.length} problems:${listed.join('')}${more}`,
    { code: 'invalid_plan_file', hint },
  );
}

/** The line of the field `key` in the map at `path`, when the document has it there. */
function lineOfKey(
  document: Document,
  lineCounter: LineCounter,
  path: Array<string | number>,
  key: string,
): number | undefined {
  const node = path.length === 0 ? document.contents : document.getIn(path, true);
  if (!isMap(node)) return undefined;
  const pair = node.items.find((item) => isScalar(item.key) && item.key.value === key);
  const keyNode = pair?.key;
  return isNode(keyNode) && keyNode.range ? lineCounter.linePos(keyNode.range[0]).line : undefined;
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
