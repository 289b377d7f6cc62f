import pg from 'pg';

/** Result of {@link probeConnection}: either it worked, or the driver's error. */
export type ProbeResult = { ok: true } | { ok: false; error: Error };

/** Connects, runs `SELECT 1` and disconnects; never throws. */
export async function probeConnection(url: string, timeoutMs = 5_000): Promise<ProbeResult> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  // A connection dropped by the server would otherwise surface as an unhandled 'error' event.
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { ok: true };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error : new Error(String(error)) };
  } finally {
    await client.end().catch(() => {});
  }
}
