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

/** What placeholders may name: `{{payload.issue.title}}`, `{{trigger.name}}`, `{{firing.at}}`, `{{event.job}}`. */
export interface TemplateValues {
  payload: unknown;
  trigger: { id: string; name: string; project: string };
  firing: { id: string; at: string; source: string; scheduledAt: string | null };
  event: unknown;
}

const placeholderPattern = /\{\{([^{}]*)\}\}/g;
const placeholderPath = /^\s*(payload|trigger|firing|event)((?:\.[A-Za-z0-9_-]+)*)\s*$/;
/** One placeholder's text at most; a title is cut at the schema's 500 characters after. */
export const maxPlaceholderChars = 20_000;
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
  for (const [field, value] of [
    ['title', title],
    ['request', request],
  ] as const) {
    checkPlaceholders(field, value ?? '');
  }
  return {
    title: title as string,
    request: request as string,
    criteria: criteria as Criterion[],
    ...rest,
  };
}

/** Checks a dedupe key's placeholders (it is never run; it only names the work). */
export function checkKeyTemplate(key: string): void {
  checkPlaceholders('the dedupe key', key);
}

/** The ticket's title and request for one firing: placeholders replaced as text, each capped. */
export function renderTemplate(
  template: TriggerTemplate,
  values: TemplateValues,
): { title: string; request: string } {
  const title = render(template.title, values).replace(/\s+/g, ' ').trim().slice(0, maxTitleChars);
  const request = render(template.request, values).trim().slice(0, maxRequestChars);
  return {
    title: title || values.trigger.name,
    request: request || `Fired by trigger ${values.trigger.name}.`,
  };
}

/** A template string with its placeholders replaced (a value as text, an object as JSON). */
export function render(text: string, values: TemplateValues): string {
  return text.replace(placeholderPattern, (_whole, inner: string) => {
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
    return asText(value).slice(0, maxPlaceholderChars);
  });
}

function asText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function checkPlaceholders(field: string, text: string): void {
  for (const match of text.matchAll(placeholderPattern)) {
    if (!placeholderPath.test(match[1] as string)) {
      throw new InvalidInputError(
        `${field} has ${match[0]}: a placeholder names payload, trigger, firing or event, then keys.`,
        { code: 'invalid_template', hint },
      );
    }
  }
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
