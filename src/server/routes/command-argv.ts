/** The API's `command`: one string runs through `/bin/sh -c`, an array is the exact argv. */
export function toArgv(command: string | string[]): string[] {
  return typeof command === 'string' ? ['/bin/sh', '-c', command] : command;
}
