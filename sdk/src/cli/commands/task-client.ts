import { TaskerClient } from '../../client/index.ts';
import { withDatabase } from '../database-session.ts';

/**
 * Runs `fn` with a TaskerClient on the database tasker-ctl uses (see withDatabase), and closes
 * the client afterwards. Transitions it causes are recorded with the actor `tasker-ctl`.
 */
export function withTaskerClient<T>(fn: (client: TaskerClient) => Promise<T>): Promise<T> {
  return withDatabase(async (url) => {
    const client = new TaskerClient({ databaseUrl: url, poolSize: 2, actor: 'tasker-ctl' });
    try {
      return await fn(client);
    } finally {
      await client.close();
    }
  });
}
