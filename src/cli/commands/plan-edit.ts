import type { Command } from 'commander';
import { renderPlanFile } from '../../api/plan-file.ts';
import type { Plan } from '../../api/plans.ts';
import { InvalidInputError, MagsError } from '../../errors/mags-error.ts';
import { apiClient } from '../client/api-client.ts';
import { CommandUsageError } from '../client/command-usage-error.ts';
import { chooseEditor, EditorFailedError, editInEditor } from '../client/edit-in-editor.ts';
import {
  addCriterion,
  parsePlanFileChecked,
  planSpecOf,
  readPlanFile,
  removeTicket,
} from '../client/plan-edits.ts';
import { withExamples } from '../help-examples.ts';
import { printJson } from '../output.ts';
import { nextStep } from '../plan-next-step.ts';
import { renderPlan } from '../plan-render.ts';
import { criterionEditsOf } from './plan-edit-flags.ts';

type Client = Awaited<ReturnType<typeof apiClient>>;

/**
 * `mags plan edit ID`: the plan file in $VISUAL/$EDITOR, or `--file`, or quick edits
 * (`--remove KEY`, `--criterion KEY TEXT [--check CMD]`); a draft only (the server says so).
 * Exit codes: 2 for a bad command line only; 1 when the edit is refused (the server's 400 or 409,
 * a bad plan file, an editor that failed).
 */
export function registerPlanEditCommand(plan: Command): void {
  withExamples(plan.command('edit'), [
    'mags plan edit PLAN',
    'EDITOR=nano mags plan edit PLAN',
    'mags plan show PLAN --yaml > plan.yaml; mags plan edit PLAN --file plan.yaml',
    'mags plan edit PLAN --remove docs',
    'mags plan edit PLAN --criterion api "GET /users answers 200" --check "npm test"',
  ])
    .description(
      'Edit a draft plan: in $VISUAL/$EDITOR as YAML (like git commit), from --file, or by quick edits.',
    )
    .argument('<id>')
    .option('--file <path>', 'the whole plan from a plan.yaml (see mags plan show --yaml)')
    .option(
      '--remove <key>',
      'take this ticket out (repeatable)',
      (key: string, previous: string[] = []) => [...previous, key],
    )
    // Both are read from the command line in order (plan-edit-flags.ts): a --check belongs to the
    // --criterion before it, which commander's values alone cannot tell.
    .option(
      '--criterion <key-and-text...>',
      'add a criterion to a ticket: --criterion KEY TEXT (repeatable)',
    )
    .option('--check <command>', 'a command that must exit 0, for the --criterion before it')
    .option('--json', 'print JSON')
    .action(async (id: string, flags, command: Command) => {
      const criteria = criterionEditsOf(command);
      const removals: string[] = flags.remove ?? [];
      if (flags.file && (removals.length > 0 || criteria.length > 0)) {
        throw new CommandUsageError('--file replaces the whole plan: it takes no quick edits.', {
          hint: 'Use --file alone, or --remove/--criterion alone.',
        });
      }
      // No editor to start: said before anything is asked of the server.
      if (!flags.file && removals.length === 0 && criteria.length === 0) chooseEditor();
      const mags = await apiClient(command);
      let edited: Plan;
      if (flags.file) {
        edited = await refusedAsOne(mags.plans.editSpec(id, await readPlanFile(flags.file)));
      } else if (removals.length > 0 || criteria.length > 0) {
        const found = await mags.plans.get(id);
        let spec = planSpecOf(found);
        for (const key of removals) spec = removeTicket(spec, key);
        for (const { key, criterion } of criteria) spec = addCriterion(spec, key, criterion);
        edited = await refusedAsOne(
          mags.plans.editSpec(id, spec, { ifUpdatedAt: found.updatedAt }),
        );
      } else {
        const saved = await editPlanInEditor(mags, id);
        if (!saved) return;
        edited = saved;
      }
      if (flags.json) return printJson(edited);
      process.stdout.write(renderPlan(edited));
      process.stderr.write(`mags: plan ${edited.id} edited; ${nextStep(edited)}\n`);
    });
}

/**
 * The plan file in the user's editor, applied; undefined when nothing changed. The file is kept
 * until the server took it: a refused edit (bad YAML, a cycle, the plan changed meanwhile) says
 * where it is and how to apply it once fixed, so nothing the user wrote is lost.
 */
async function editPlanInEditor(mags: Client, id: string): Promise<Plan | undefined> {
  const found = await mags.plans.get(id);
  if (found.status !== 'draft') {
    throw new MagsError(`Plan ${id} is ${found.status}: only a draft can be edited.`, {
      code: 'plan_status',
      hint: `See it with mags plan show ${id}.`,
    });
  }
  const before = renderPlanFile(planSpecOf(found), {
    header: `Plan ${id} of ${found.project}. Save and quit to apply; an unchanged file changes nothing, an empty one aborts.`,
  });
  const name = `${id}.yaml`;
  let file: Awaited<ReturnType<typeof editInEditor>>;
  try {
    file = await editInEditor(before, { name });
  } catch (error) {
    if (error instanceof EditorFailedError) throw keptFile(error, id, error.path);
    throw error;
  }
  if (file.text === before) {
    await file.remove();
    process.stderr.write(`mags: the plan file was saved unchanged; plan ${id} is as it was\n`);
    return undefined;
  }
  if (isEmptied(file.text)) {
    // As `git commit` with an emptied message: an abort, exit code 1 (nothing was applied).
    await file.remove();
    throw new MagsError(`The plan file was emptied: edit aborted; plan ${id} is as it was.`, {
      code: 'edit_aborted',
      hint: `To take tickets out, delete only them (or mags plan edit ${id} --remove KEY); to drop the plan: mags plan close ${id}.`,
    });
  }
  try {
    const edited = await refusedAsOne(
      mags.plans.editSpec(id, parsePlanFileChecked(file.text, name), {
        ifUpdatedAt: found.updatedAt,
      }),
    );
    await file.remove();
    return edited;
  } catch (error) {
    throw keptFile(error, id, file.path);
  }
}

/** Only comments and blank lines: what `git commit` takes as "abort". */
function isEmptied(text: string): boolean {
  return text.split('\n').every((line) => line.trim() === '' || line.trim().startsWith('#'));
}

/** The error of a refused edit, its hint saying where the user's text is and how to retry. */
function keptFile(error: unknown, id: string, path: string): unknown {
  if (!(error instanceof MagsError)) return error;
  const retry = `Your edit is kept in ${path}: fix it there, then run: mags plan edit ${id} --file ${path}`;
  return new MagsError(error.message, {
    code: error.code === 'invalid_input' ? 'plan_edit_refused' : error.code,
    hint: error.hint ? `${error.hint}\n  ${retry}` : retry,
    ...(error.statusCode !== undefined && { statusCode: error.statusCode }),
    cause: error,
  });
}

/**
 * A refused edit exits 1: the server's 400 (a cycle, an unknown model) is about the plan, not the
 * command line (exit code 2 is kept for bad command lines).
 */
async function refusedAsOne(edit: Promise<Plan>): Promise<Plan> {
  try {
    return await edit;
  } catch (error) {
    if (error instanceof InvalidInputError && error.code === 'invalid_input') {
      throw new MagsError(error.message, {
        code: 'plan_edit_refused',
        ...(error.hint !== undefined && { hint: error.hint }),
        statusCode: 400,
        cause: error,
      });
    }
    throw error;
  }
}
