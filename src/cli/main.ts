import { Command } from 'commander';
import { registerDoctorCommand } from './commands/doctor.ts';
import { registerImageCommands } from './commands/image.ts';
import { registerRunCommand } from './commands/run.ts';
import { registerSyncCommand } from './commands/sync.ts';
import { registerWorkspaceCommands } from './commands/workspace.ts';
import { reportError } from './report-error.ts';

export async function main(argv: string[]): Promise<void> {
  const program = new Command('mags')
    .description('Isolated, disposable sandboxes with persistent workspaces for AI agents.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .enablePositionalOptions();
  registerRunCommand(program);
  registerImageCommands(program);
  registerWorkspaceCommands(program);
  registerSyncCommand(program);
  registerDoctorCommand(program);
  try {
    await program.parseAsync(argv);
  } catch (error) {
    process.exitCode = reportError(error);
  }
}
