import { readFile } from 'node:fs/promises';
import { parseTicketFile, type TicketFile } from '../../api/ticket-file.ts';
import type { CreateTicketBody } from '../../api/tickets.ts';
import { InvalidInputError } from '../../errors/mags-error.ts';

/** `--file PATH`, read and parsed; a file that cannot be read is an error naming it and why. */
export async function readTicketFile(file: string): Promise<TicketFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a directory'
          : code === 'EACCES'
            ? 'permission denied'
            : (error as Error).message;
    throw new InvalidInputError(`Cannot read the ticket file ${file}: ${why}.`, {
      hint: 'Give the path of a ticket.md (YAML front matter between --- lines, then the request).',
    });
  }
  return parseTicketFile(text, file);
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
