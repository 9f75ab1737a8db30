import { parseTicketFile } from '../api/ticket-file.ts';
import type { Budget, Criterion } from '../api/tickets.ts';
import { InvalidInputError } from '../errors/mags-error.ts';

/** What a trigger's ticket.md says, checked once when the trigger is added. */
export interface TriggerTemplate {
  title: string;
  request: string;
  criteria: Criterion[];
  role?: string;
  model?: string;
  budget?: Budget;
}

/**
 * What placeholders may name: `{{payload.issue.title}}`, `{{trigger.name}}`, `{{firing.at}}`,
 * `{{event.job}}`. `firing.scheduledAt` is the time a schedule fired for; a firing for no
 * scheduled time (manual, webhook, event) renders its own time there, never an empty text.
 */
export interface TemplateValues {
  payload: unknown;
  trigger: { id: string; name: string; project: string };
  firing: { id: string; at: string; source: string; scheduledAt: string | null };
  event: unknown;
}

/** The fields of `{{trigger.…}}` and `{{firing.…}}`: fixed, so a misspelt one is refused at add. */
const fixedFields: Record<string, readonly string[]> = {
  trigger: ['id', 'name', 'project'],
  firing: ['id', 'at', 'source', 'scheduledAt'],
};

const placeholderPattern = /\{\{([^{}]*)\}\}/g;
const placeholderPath = /^\s*(payload|trigger|firing|event)((?:\.[A-Za-z0-9_-]+)*)\s*$/;
/** One placeholder's text at most; a title is cut at the schema's 500 characters after. */
export const maxPlaceholderChars = 20_000;
/** Placeholders one template may hold (title and request; the dedupe key as many again). */
export const maxPlaceholders = 50;
const maxTitleChars = 500;
const maxRequestChars = 200_000;

const hint =
  'Placeholders ({{payload.a.b}}, {{trigger.name}}, {{firing.at}}, {{event.…}}) go in the title and the request (the body after the front matter) only; quote a title that starts with one: title: "{{payload.issue.title}}".';

/**
 * Parses and checks a trigger's template (the ticket.md format `mags ticket create --file`
 * reads). Placeholders are allowed in the title and the request only, which are text a person
 * reads and an agent works from: anywhere else in the front matter, a criterion's `check` above
 * all, a payload would become a command run in the sandbox, so such a template is refused here.
 */
export function parseTriggerTemplate(text: string, project: string): TriggerTemplate {
  const file = parseTicketFile(text, 'the template');
  const { title, request, criteria, project: named, ...rest } = file;
  if (named !== undefined && named !== project) {
    throw new InvalidInputError(`The template names project ${named}, the trigger ${project}.`, {
      code: 'invalid_template',
      hint: 'Leave project: out of the template (the trigger says it), or make them the same.',
    });
  }
  const placed = placeholdersOutside({ criteria, ...rest });
  if (placed) {
    throw new InvalidInputError(
      `The template has a placeholder in ${placed}: a payload must never become a command or a setting.`,
      { code: 'template_placeholder', hint },
    );
  }
  const missing = [
    !title && 'a title',
    !request && 'a request (the text after the front matter)',
    (!criteria || criteria.length === 0) && 'at least one criterion',
  ].filter(Boolean);
  if (missing.length > 0) {
    throw new InvalidInputError(`The template needs ${missing.join(', ')}.`, {
      code: 'invalid_template',
      hint: 'A ticket.md: front matter with title and criteria [{text, check}], then the request.',
    });
  }
  let count = 0;
  for (const [field, value] of [
    ['title', title],
    ['request', request],
  ] as const) {
    count += checkPlaceholders(field, value ?? '');
  }
  checkPlaceholderCount(count);
  return {
    title: title as string,
    request: request as string,
    criteria: criteria as Criterion[],
    ...rest,
  };
}

/** Checks a dedupe key's placeholders (it is never run; it only names the work). */
export function checkKeyTemplate(key: string): void {
  checkPlaceholderCount(checkPlaceholders('the dedupe key', key));
}

/** Refuses more than `maxPlaceholders`: each is a value rendered per firing. */
export function checkPlaceholderCount(count: number): void {
  if (count <= maxPlaceholders) return;
  throw new InvalidInputError(
    `The template has ${count} placeholders; a trigger may have at most ${maxPlaceholders}.`,
    {
      code: 'too_many_placeholders',
      hint: 'Name each payload field once or twice; {{payload}} alone puts the whole payload in.',
    },
  );
}

/** The ticket's title and request for one firing: placeholders replaced as text, each capped. */
export function renderTemplate(
  template: TriggerTemplate,
  values: TemplateValues,
): { title: string; request: string } {
  const cache = new Map<string, string>();
  // The title's whitespace is folded after rendering: a few times its length is enough to read.
  const title = render(template.title, values, 4 * maxTitleChars, cache)
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, maxTitleChars);
  const request = render(template.request, values, maxRequestChars, cache).trim();
  return {
    title: title || values.trigger.name,
    request: request || `Fired by trigger ${values.trigger.name}.`,
  };
}

/**
 * A template string with its placeholders replaced (a value as text, an object as JSON), at most
 * `maxChars` long: rendering stops at the budget rather than building the whole string and
 * cutting it after, and each distinct path is turned into text once (`cache`, shared between the
 * fields of one firing), so a template repeating `{{payload}}` costs one stringify, not one each.
 */
export function render(
  text: string,
  values: TemplateValues,
  maxChars: number,
  cache: Map<string, string> = new Map(),
): string {
  const parts: string[] = [];
  let length = 0;
  let from = 0;
  for (const match of text.matchAll(placeholderPattern)) {
    if (length >= maxChars) break;
    const literal = text.slice(from, match.index);
    from = match.index + match[0].length;
    const inner = match[1] as string;
    let value = cache.get(inner);
    if (value === undefined) {
      value = placeholderValue(inner, values);
      cache.set(inner, value);
    }
    for (const part of [literal, value]) {
      const room = maxChars - length;
      if (room <= 0) break;
      const taken = part.length > room ? part.slice(0, room) : part;
      parts.push(taken);
      length += taken.length;
    }
  }
  if (length < maxChars) parts.push(text.slice(from, from + maxChars - length));
  return parts.join('');
}

/** One placeholder's text: its value found by path, as text, capped, without control characters. */
function placeholderValue(inner: string, values: TemplateValues): string {
  const match = placeholderPath.exec(inner);
  if (!match) return '';
  const root = match[1] as keyof TemplateValues;
  const keys = (match[2] ?? '').split('.').filter(Boolean);
  let value: unknown = values[root];
  for (const key of keys) {
    value =
      value !== null && typeof value === 'object' && Object.hasOwn(value, key)
        ? (value as Record<string, unknown>)[key]
        : undefined;
  }
  return withoutControlCharacters(asText(value).slice(0, maxPlaceholderChars));
}

/**
 * A payload's text without control characters other than newline and tab: an escape sequence
 * (ESC, CSI) in an issue title would otherwise reach the terminal of whoever lists the tickets.
 */
export function withoutControlCharacters(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are what is removed
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '');
}

function asText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'object') return JSON.stringify(value) ?? '';
  return String(value);
}

/** Checks each placeholder's path; returns how many there are. */
function checkPlaceholders(field: string, text: string): number {
  let count = 0;
  for (const match of text.matchAll(placeholderPattern)) {
    count++;
    const path = placeholderPath.exec(match[1] as string);
    if (!path) {
      throw new InvalidInputError(
        `${field} has ${match[0]}: a placeholder names payload, trigger, firing or event, then keys.`,
        { code: 'invalid_template', hint },
      );
    }
    const fields = fixedFields[path[1] as string];
    const keys = (path[2] ?? '').split('.').filter(Boolean);
    if (fields && (keys.length > 1 || (keys[0] !== undefined && !fields.includes(keys[0])))) {
      const valid = fields.map((name) => `{{${path[1]}.${name}}}`).join(', ');
      throw new InvalidInputError(`${field} has ${match[0]}: ${path[1]} has no such field.`, {
        code: 'invalid_template',
        hint: `Use one of ${valid}.`,
      });
    }
  }
  return count;
}

/** The first front matter field (outside title) holding `{{`, as a path; undefined: none. */
function placeholdersOutside(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return value.includes('{{') ? path : undefined;
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, inner] of Object.entries(value)) {
    const found = placeholdersOutside(inner, path ? `${path}.${key}` : key);
    if (found) return found;
  }
  return undefined;
}
