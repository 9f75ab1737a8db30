import { useEffect, useRef, useState } from 'preact/hooks';
import type { Budget, CreateTicketBody, Ticket } from '../../api/tickets.ts';
import { useMags } from '../client-context.ts';
import { ErrorView } from '../components/error-view.tsx';
import { fieldErrors } from './field-errors.ts';

interface CriterionRow {
  text: string;
  check: string;
}

const numberOrUndefined = (text: string) => (text.trim() === '' ? undefined : Number(text));

/**
 * A new ticket: project, title, request, criteria (each with an optional check command), role,
 * model, budget and whether to start it now. The API checks it; what it refuses is shown beside
 * the field it names, the rest above the buttons. It takes the keyboard focus when it opens;
 * Escape cancels it.
 */
export function CreateTicketForm(props: {
  projects: string[];
  /** Each project's default model (its own, or its .mags/project.json's), where it has one. */
  projectModels?: Record<string, string | undefined>;
  initialProject?: string;
  onCreated: (ticket: Ticket) => void;
  onCancel: () => void;
}) {
  const mags = useMags();
  const [project, setProject] = useState(props.initialProject ?? props.projects[0] ?? '');
  const [title, setTitle] = useState('');
  const [request, setRequest] = useState('');
  const [criteria, setCriteria] = useState<CriterionRow[]>([{ text: '', check: '' }]);
  const [role, setRole] = useState('');
  const [model, setModel] = useState('');
  const [budget, setBudget] = useState({ steps: '', tokens: '', costUsd: '', wallMinutes: '' });
  const [startNow, setStartNow] = useState(false);
  const [error, setError] = useState<unknown>();
  const [saving, setSaving] = useState(false);
  const errors = fieldErrors(error);
  const firstField = useRef<HTMLSelectElement>(null);
  useEffect(() => firstField.current?.focus(), []);
  // The server's own default (MAGS_DEFAULT_MODEL) is not in the API, so it cannot be named here.
  const projectModel = props.projectModels?.[project];

  const submit = async (event: Event) => {
    event.preventDefault();
    const wallMinutes = numberOrUndefined(budget.wallMinutes);
    const limits: Budget = {
      maxSteps: numberOrUndefined(budget.steps),
      maxTokens: numberOrUndefined(budget.tokens),
      maxCostUsd: numberOrUndefined(budget.costUsd),
      maxWallMs: wallMinutes === undefined ? undefined : Math.round(wallMinutes * 60_000),
    };
    const given = Object.fromEntries(
      Object.entries(limits).filter(([, value]) => value !== undefined),
    );
    const body: CreateTicketBody = {
      project,
      title,
      request,
      criteria: criteria.map((row) => ({
        text: row.text,
        ...(row.check.trim() !== '' && { check: row.check }),
      })),
      ...(role.trim() !== '' && { role: role.trim() }),
      ...(model.trim() !== '' && { model: model.trim() }),
      ...(Object.keys(given).length > 0 && { budget: given }),
      run: startNow,
    };
    setSaving(true);
    setError(undefined);
    try {
      props.onCreated(await mags.tickets.create(body));
    } catch (caught) {
      setError(caught);
    } finally {
      setSaving(false);
    }
  };

  const fieldError = (path: string) => {
    const message = errors.get(path);
    return message ? (
      <p class="field-error" id={`error-${path.replaceAll('.', '-')}`}>
        {message}
      </p>
    ) : null;
  };
  const described = (path: string) =>
    errors.has(path)
      ? { 'aria-describedby': `error-${path.replaceAll('.', '-')}`, 'aria-invalid': true }
      : {};
  const setRow = (index: number, patch: Partial<CriterionRow>) =>
    setCriteria(criteria.map((row, at) => (at === index ? { ...row, ...patch } : row)));
  const budgetInput = (key: keyof typeof budget, label: string, step: string, path: string) => (
    <span class="budget-field">
      <label for={`budget-${key}`}>{label}</label>
      <input
        id={`budget-${key}`}
        type="number"
        min="0"
        step={step}
        value={budget[key]}
        onInput={(event) =>
          setBudget({ ...budget, [key]: (event.target as HTMLInputElement).value })
        }
        {...described(path)}
      />
      {fieldError(path)}
    </span>
  );

  return (
    <form
      class="create-ticket card"
      onSubmit={submit}
      aria-labelledby="create-ticket-heading"
      onKeyDown={(event) => {
        if (event.key !== 'Escape') return;
        event.preventDefault();
        props.onCancel();
      }}
    >
      <h2 id="create-ticket-heading">New ticket</h2>
      <label for="ticket-project">Project</label>
      <select
        id="ticket-project"
        ref={firstField}
        value={project}
        onChange={(event) => setProject((event.target as HTMLSelectElement).value)}
        {...described('project')}
      >
        {props.projects.map((name) => (
          <option key={name} value={name}>
            {name}
          </option>
        ))}
      </select>
      {fieldError('project')}
      <label for="ticket-title">Title</label>
      <input
        id="ticket-title"
        class="wide"
        value={title}
        onInput={(event) => setTitle((event.target as HTMLInputElement).value)}
        {...described('title')}
      />
      {fieldError('title')}
      <label for="ticket-request">Request</label>
      <textarea
        id="ticket-request"
        value={request}
        onInput={(event) => setRequest((event.target as HTMLTextAreaElement).value)}
        {...described('request')}
      />
      {fieldError('request')}
      <fieldset class="criteria">
        <legend>Acceptance criteria</legend>
        {criteria.map((row, index) => (
          <div class="criterion-row" key={index}>
            <span>
              <label for={`criterion-${index}`}>Criterion {index + 1}</label>
              <input
                id={`criterion-${index}`}
                value={row.text}
                onInput={(event) =>
                  setRow(index, { text: (event.target as HTMLInputElement).value })
                }
                {...described(`criteria.${index}.text`)}
              />
              {fieldError(`criteria.${index}.text`)}
            </span>
            <span>
              <label for={`check-${index}`}>Check command (optional)</label>
              <input
                id={`check-${index}`}
                class="mono"
                value={row.check}
                onInput={(event) =>
                  setRow(index, { check: (event.target as HTMLInputElement).value })
                }
                {...described(`criteria.${index}.check`)}
              />
              {fieldError(`criteria.${index}.check`)}
            </span>
            <button
              type="button"
              class="quiet"
              aria-label={`Remove criterion ${index + 1}`}
              disabled={criteria.length === 1}
              onClick={() => setCriteria(criteria.filter((_, at) => at !== index))}
            >
              Remove
            </button>
          </div>
        ))}
        {fieldError('criteria')}
        <button
          type="button"
          class="quiet"
          onClick={() => setCriteria([...criteria, { text: '', check: '' }])}
        >
          Add criterion
        </button>
      </fieldset>
      <div class="form-pair">
        <span>
          <label for="ticket-role">Role (optional)</label>
          <input
            id="ticket-role"
            value={role}
            placeholder="e.g. coder"
            onInput={(event) => setRole((event.target as HTMLInputElement).value)}
            {...described('role')}
          />
          {fieldError('role')}
        </span>
        <span>
          <label for="ticket-model">
            {projectModel
              ? `Model (optional: ${project}'s default is ${projectModel})`
              : 'Model (required unless the role or the server, MAGS_DEFAULT_MODEL, sets one)'}
          </label>
          <input
            id="ticket-model"
            value={model}
            placeholder="e.g. anthropic:claude-sonnet-4-5"
            onInput={(event) => setModel((event.target as HTMLInputElement).value)}
            {...described('model')}
          />
          {fieldError('model')}
        </span>
      </div>
      <fieldset class="budget">
        <legend>Budget (optional; the server's defaults fill the rest)</legend>
        {budgetInput('steps', 'Steps', '1', 'budget.maxSteps')}
        {budgetInput('tokens', 'Tokens', '1', 'budget.maxTokens')}
        {budgetInput('costUsd', 'Cost (USD)', '0.01', 'budget.maxCostUsd')}
        {budgetInput('wallMinutes', 'Wall time (minutes)', '1', 'budget.maxWallMs')}
      </fieldset>
      <label class="checkbox">
        <input
          type="checkbox"
          checked={startNow}
          onChange={(event) => setStartNow((event.target as HTMLInputElement).checked)}
        />
        Start now (otherwise it stays a draft)
      </label>
      {error && errors.size === 0 ? <ErrorView error={error} /> : null}
      {errors.size > 0 ? (
        <p class="field-error" role="alert">
          Fix the marked fields.
        </p>
      ) : null}
      <div class="toolbar">
        <button type="submit" disabled={saving}>
          {saving ? 'Creating…' : 'Create ticket'}
        </button>
        <button type="button" class="quiet" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
