import {
  AuthenticationError,
  ConflictError,
  MagsError,
  NotFoundError,
} from '../errors/mags-error.ts';

export function triggerNotFound(ref: string): NotFoundError {
  return new NotFoundError(`No trigger ${ref}.`, {
    code: 'trigger_not_found',
    hint: 'mags trigger list shows your triggers.',
  });
}

export function triggerExists(name: string): ConflictError {
  return new ConflictError(`A trigger named ${name} exists already.`, {
    code: 'trigger_exists',
    hint: `Pick another name, or remove it first: mags trigger remove ${name}`,
  });
}

/** An unknown hook is a 404 whatever else is wrong with the delivery: nothing is told about it. */
export function hookNotFound(): NotFoundError {
  return new NotFoundError('No such hook.', {
    code: 'hook_not_found',
    hint: 'The URL is /v1/hooks/<trigger id>, as mags trigger show prints it.',
  });
}

export function badSignature(what: string): AuthenticationError {
  return new AuthenticationError(`The webhook's signature ${what}.`, {
    code: 'webhook_signature',
    hint: 'Send X-Mags-Signature: sha256=<hex HMAC-SHA256 of "<X-Mags-Timestamp>.<raw body>" keyed with the trigger\'s secret>, X-Mags-Timestamp (unix seconds) and X-Mags-Delivery (a unique id).',
  });
}

export function staleTimestamp(skewSeconds: number, toleranceSeconds: number): AuthenticationError {
  return new AuthenticationError(
    `The webhook's timestamp is ${Math.abs(skewSeconds)} s ${skewSeconds < 0 ? 'behind' : 'ahead of'} the server's clock (at most ${toleranceSeconds} s either way).`,
    {
      code: 'webhook_stale',
      hint: "Sign each delivery when it is sent, with the current unix time; check the sender's clock.",
    },
  );
}

export function replayedDelivery(delivery: string): ConflictError {
  return new ConflictError(`Delivery ${delivery} (or its signature) was received before.`, {
    code: 'webhook_replayed',
    hint: 'Each delivery needs a new X-Mags-Delivery id and a new signature; a retry of a refused one must be signed again.',
  });
}

export function webhookTooLarge(maxBytes: number): MagsError {
  return new MagsError(`The webhook's body is over ${maxBytes} bytes.`, {
    code: 'too_large',
    statusCode: 413,
    hint: 'Send a smaller payload (the template needs only the fields it names).',
  });
}
