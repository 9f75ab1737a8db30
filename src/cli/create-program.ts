import { Command } from 'commander';
import { registerDoctorCommand } from './commands/doctor.ts';
import { registerImageCommands } from './commands/image.ts';
import { registerJobCommands } from './commands/jobs.ts';
import { registerLoginCommand } from './commands/login.ts';
import { registerPoolCommands } from './commands/pool.ts';
import { registerRunCommand } from './commands/run.ts';
import { registerSandboxCommands } from './commands/sandboxes.ts';
import { registerServerCommand } from './commands/server.ts';
import { registerSyncCommand } from './commands/sync.ts';
import { registerTokenCommands } from './commands/token.ts';
import { registerWorkspaceCommands } from './commands/workspace.ts';
import { refuseUnknownCommands } from './unknown-command.ts';

/** The whole `mags` command tree; parsing it runs a command. Creating it does no I/O. */
export function createProgram(): Command {
  const program = new Command('mags')
    .description('Isolated, disposable sandboxes with persistent workspaces for AI agents.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .option('--url <url>', 'use the mags server at this URL (default: MAGS_URL, then mags login)')
    .enablePositionalOptions();
  registerRunCommand(program);
  registerJobCommands(program);
  registerSandboxCommands(program);
  registerImageCommands(program);
  registerWorkspaceCommands(program);
  registerSyncCommand(program);
  registerDoctorCommand(program);
  registerServerCommand(program);
  registerPoolCommands(program);
  registerTokenCommands(program);
  registerLoginCommand(program);
  refuseUnknownCommands(program);
  return program;
}
