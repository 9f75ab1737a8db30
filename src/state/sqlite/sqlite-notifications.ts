import type { DatabaseSync } from 'node:sqlite';
import { checkNotificationPayload, deliverNotification } from '../state-notifications.ts';
import type { StateChannel, StateRepository } from '../state-repository.ts';

type Listener = (payload: string) => void;
type Channels = Map<StateChannel, Set<Listener>>;

/**
 * Listeners by database file, for the whole process. SQLite is one host's embedded state, so its
 * notifications reach this process only; but within it they are per file, not per repository
 * instance: two instances opened on one state.db (a server and an in-process helper, or a test of
 * two servers on one file) are the same state and must hear each other, as two PostgreSQL clients
 * of one database do.
 */
const channelsByFile = new Map<string, Channels>();

/**
 * `notify` and `listen` of a SQLite repository: delivered in this process, in the order notified,
 * each on a later microtask (never inside `notify`, as PostgreSQL never delivers inside NOTIFY),
 * to the listeners listening when it was notified. An in-memory database is its own file.
 */
export function sqliteNotifications(
  database: DatabaseSync,
): Pick<StateRepository, 'notify' | 'listen'> {
  const file = database.location();
  const inMemory: Channels = new Map();
  // Looked up at each call: another instance on the file may have made the file's map since.
  const channelsOfFile = (): Channels => {
    if (!file) return inMemory;
    let channels = channelsByFile.get(file);
    if (!channels) {
      channels = new Map();
      channelsByFile.set(file, channels);
    }
    return channels;
  };
  return {
    async notify(channel, payload) {
      checkNotificationPayload(channel, payload);
      const listening = (file ? channelsByFile.get(file) : inMemory)?.get(channel);
      if (!listening || listening.size === 0) return;
      const listeners = [...listening];
      queueMicrotask(() => {
        for (const listener of listeners) {
          // Unsubscribed since: it hears nothing more.
          if (listening.has(listener)) deliverNotification(channel, listener, payload);
        }
      });
    },
    async listen(channel, listener) {
      const channels = channelsOfFile();
      let listening = channels.get(channel);
      if (!listening) {
        listening = new Set();
        channels.set(channel, listening);
      }
      // A Set holds a function once: a wrapper makes each call its own subscription. A closed
      // repository hears nothing more, as a closed PostgreSQL one, whose connection is gone.
      const subscription: Listener = (payload) => {
        if (database.isOpen) listener(payload);
        else unsubscribe();
      };
      const unsubscribe = () => {
        listening.delete(subscription);
        if (listening.size === 0) channels.delete(channel);
        if (file && channels.size === 0 && channelsByFile.get(file) === channels) {
          channelsByFile.delete(file);
        }
      };
      listening.add(subscription);
      return async () => unsubscribe();
    },
  };
}
