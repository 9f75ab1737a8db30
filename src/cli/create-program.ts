import { Command } from 'commander';
import { registerCpCommand } from './commands/cp.ts';
import { registerCronCommands } from './commands/cron.ts';
import { registerDashboardCommand } from './commands/dashboard.ts';
import { registerDoctorCommand } from './commands/doctor.ts';
import { registerImageCommands } from './commands/image.ts';
import { registerJobCommands } from './commands/jobs.ts';
import { registerLoginCommand } from './commands/login.ts';
import { registerMcpCommand } from './commands/mcp.ts';
import { registerPlanCommands } from './commands/plan.ts';
import { registerPoolCommands } from './commands/pool.ts';
import { registerProjectCommands } from './commands/project.ts';
import { registerRunCommand } from './commands/run.ts';
import { registerSandboxCommands } from './commands/sandboxes.ts';
import { registerServerCommand } from './commands/server.ts';
import { registerSyncCommand } from './commands/sync.ts';
import { registerTicketCommands } from './commands/ticket.ts';
import { registerTokenCommands } from './commands/token.ts';
import { registerTriggerCommands } from './commands/trigger.ts';
import { registerUrlCommand } from './commands/url.ts';
import { registerWorkspaceCommands } from './commands/workspace.ts';
import { refuseUnknownCommands } from './unknown-command.ts';

/**
 * The whole `mags` command tree; parsing it runs a command. Creating it does no I/O. Given the
 * command line (`process.argv`) of a `mags run`, the hot path, it holds the run command alone:
 * building the other forty-odd commands costs a run a few milliseconds.
 */
export function createProgram(argv: readonly string[] = []): Command {
  const program = new Command('mags')
    .description('Isolated, disposable sandboxes with persistent workspaces for AI agents.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .option('--url <url>', 'use the mags server at this URL (default: MAGS_URL, then mags login)')
    .enablePositionalOptions();
  registerRunCommand(program);
  if (firstOperand(argv) === 'run') return program;
  registerJobCommands(program);
  registerSandboxCommands(program);
  registerUrlCommand(program);
  registerImageCommands(program);
  registerWorkspaceCommands(program);
  registerTicketCommands(program);
  registerTriggerCommands(program);
  registerPlanCommands(program);
  registerSyncCommand(program);
  registerDoctorCommand(program);
  registerServerCommand(program);
  registerDashboardCommand(program);
  registerPoolCommands(program);
  registerProjectCommands(program);
  registerCronCommands(program);
  registerTokenCommands(program);
  registerLoginCommand(program);
  registerCpCommand(program);
  registerMcpCommand(program);
  refuseUnknownCommands(program);
  return program;
}

/** The command a command line names: its first word after the global options, if it is plain. */
function firstOperand(argv: readonly string[]): string | undefined {
  const words = argv.slice(2);
  // --url takes a value; any other option before the command (--help, --version) gets the whole tree.
  const first =
    words[0] === '--url' ? words[2] : words[0]?.startsWith('--url=') ? words[1] : words[0];
  return first?.startsWith('-') ? undefined : first;
}
