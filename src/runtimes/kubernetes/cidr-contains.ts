import { isIP } from 'node:net';

/** Whether `outer` holds all of `inner` (both CIDRs of the same family). */
export function cidrContains(outer: string, inner: string): boolean {
  const [outerAddress = '', outerBits = '0'] = outer.split('/');
  const [innerAddress = '', innerBits = '0'] = inner.split('/');
  const prefix = Number(outerBits);
  if (prefix >= Number(innerBits)) return false;
  const a = addressBits(outerAddress);
  const b = addressBits(innerAddress);
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  return a.slice(0, prefix) === b.slice(0, prefix);
}

function addressBits(address: string): string | undefined {
  if (isIP(address) === 4) {
    return address
      .split('.')
      .map((part) => Number(part).toString(2).padStart(8, '0'))
      .join('');
  }
  if (isIP(address) !== 6) return undefined;
  const [head = '', tail = ''] = address.split('::');
  const groups = (text: string) => (text === '' ? [] : text.split(':'));
  const left = groups(head);
  const right = address.includes('::') ? groups(tail) : [];
  const middle = Array(8 - left.length - right.length).fill('0');
  return [...left, ...middle, ...right]
    .map((group) => Number.parseInt(group, 16).toString(2).padStart(16, '0'))
    .join('');
}
