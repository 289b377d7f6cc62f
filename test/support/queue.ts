import type { Queryable } from '../../sdk/src/protocol/index.ts';

/** Messages currently in a namespace queue (visible or not), read straight from PGMQ's table. */
export async function queueMessages(
  db: Queryable,
  namespace: string,
): Promise<Array<{ msg_id: string; message: unknown; vt: Date; read_ct: number }>> {
  const { rows } = await db.query<{ msg_id: string; message: unknown; vt: Date; read_ct: number }>(
    `SELECT msg_id, message, vt, read_ct FROM pgmq.${'q_worker_' + namespace + '_queue'} ORDER BY msg_id`,
  );
  return rows;
}

/** Messages archived from a namespace queue. */
export async function archivedMessages(db: Queryable, namespace: string): Promise<Array<{ msg_id: string; message: unknown }>> {
  const { rows } = await db.query<{ msg_id: string; message: unknown }>(
    `SELECT msg_id, message FROM pgmq.${'a_worker_' + namespace + '_queue'} ORDER BY msg_id`,
  );
  return rows;
}

/** Sends a raw message to a namespace queue, bypassing the protocol (for poison-message tests). */
export async function sendRaw(db: Queryable, namespace: string, message: unknown): Promise<number> {
  const { rows } = await db.query<{ id: string }>('SELECT pgmq.send($1, $2::jsonb) AS id', [
    `worker_${namespace}_queue`,
    JSON.stringify(message),
  ]);
  return Number(rows[0]?.id);
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
