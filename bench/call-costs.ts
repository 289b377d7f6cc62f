/**
 * What each protocol call costs inside PostgreSQL, with no client round trip in the figure: runs
 * the SQL of a 4-step linear workflow (create_task, claim_steps for the first step, then
 * report_and_claim for each step, which claims the next) from one PL/pgSQL block, timing every
 * call with clock_timestamp(), in three arrangements taken in turn each round, so this machine's
 * drift falls on all three:
 *   - `commit`: a COMMIT after every call, as a worker's calls are committed;
 *   - `one transaction`: a round's calls all in one transaction (what they cost once the
 *     transaction's start-up — relation locks, plan checks, PL/pgSQL expression set-up — is paid);
 *   - `commit, no log`: as `commit` with the transition-log triggers disabled, the most the log
 *     could cost (the throwaway database is the only one touched);
 * then PGMQ's `pgmq.read` (empty queue) and `pgmq.send` against the statements they build,
 * written out in PL/pgSQL (planned once): what PGMQ's dynamic SQL costs per call.
 *
 *   node bench/dist/call-costs.js [--workflows 200] [--rounds 3]
 *
 * PostgreSQL: DATABASE_URL, else the embedded server; a throwaway database is created and dropped.
 */
import { parseArgs } from 'node:util';
import { resolveDatabase } from '@tasker/sdk';
import pg from 'pg';
import { registerLinearTemplate, withMigratedDatabase } from './sql-workloads.ts';
import { p50 } from './stats.ts';

const { values } = parseArgs({
  options: {
    workflows: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '3' },
  },
});
const workflows = Number(values.workflows);
const rounds = Number(values.rounds);
if (!Number.isInteger(workflows) || workflows < 1 || !Number.isInteger(rounds) || rounds < 1) {
  throw new Error('--workflows and --rounds take whole numbers of at least 1');
}

type Arrangement = 'commit' | 'one transaction' | 'commit, no log';
const ARRANGEMENTS: readonly Arrangement[] = ['commit', 'one transaction', 'commit, no log'];

/** Mean µs per call of one arrangement's round, as the block reports it. */
interface RoundCosts {
  create_task: number;
  claim_steps: number;
  report_and_claim: number;
  commit: number;
  workflow: number;
}

const LOG_TRIGGERS = [
  'tasker.tasks tasks_log_insert',
  'tasker.tasks tasks_log_update',
  'tasker.workflow_steps workflow_steps_log_insert',
  'tasker.workflow_steps workflow_steps_log_update',
  'tasker.workflow_steps workflow_steps_log_claim_on_enqueue',
];

/**
 * The block running `n` workflows; with `commits` a COMMIT follows every call (a DO block may
 * commit when it is the whole statement), without them the block is one transaction.
 */
function workflowBlock(n: number, commits: boolean): string {
  const commit = commits ? 'COMMIT;' : '';
  return `DO $block$
DECLARE
  n int := ${n}; s record; rep jsonb; t0 timestamptz; t1 timestamptz; t_start timestamptz;
  tc float8 := 0; tl float8 := 0; tr float8 := 0; tk float8 := 0; nr int := 0;
BEGIN
  t_start := clock_timestamp();
  FOR i IN 1..n LOOP
    t0 := clock_timestamp();
    PERFORM tasker.create_task('sql_profile', 'linear4', NULL, '{}'::jsonb);
    t1 := clock_timestamp(); tc := tc + extract(epoch FROM t1 - t0);
    ${commit}
    t0 := clock_timestamp(); tk := tk + extract(epoch FROM t0 - t1);
    SELECT step_id, attempt, delivery INTO s FROM tasker.claim_steps('sql_profile', 1, 30, 'w');
    t1 := clock_timestamp(); tl := tl + extract(epoch FROM t1 - t0);
    ${commit}
    tk := tk + extract(epoch FROM clock_timestamp() - t1);
    IF s.step_id IS NULL THEN RAISE EXCEPTION 'call-costs: claim_steps found no step'; END IF;
    WHILE s.step_id IS NOT NULL LOOP
      rep := jsonb_build_array(jsonb_build_object('step_id', s.step_id, 'attempt', s.attempt,
               'delivery', s.delivery, 'outcome', 'success', 'result', 1));
      s := NULL;
      t0 := clock_timestamp();
      SELECT (claim ->> 'step_id')::uuid AS step_id, (claim ->> 'attempt')::int AS attempt,
             (claim ->> 'delivery')::int AS delivery
        INTO s FROM tasker.report_and_claim(rep, 'w', 1, 30) WHERE kind = 'claimed';
      t1 := clock_timestamp(); tr := tr + extract(epoch FROM t1 - t0); nr := nr + 1;
      ${commit}
      tk := tk + extract(epoch FROM clock_timestamp() - t1);
    END LOOP;
  END LOOP;
  IF nr <> 4 * n THEN RAISE EXCEPTION 'call-costs: % reports for % workflows', nr, n; END IF;
  RAISE NOTICE 'call-costs %', json_build_object(
    'create_task', tc * 1e6 / n, 'claim_steps', tl * 1e6 / n, 'report_and_claim', tr * 1e6 / nr,
    'commit', tk * 1e6 / (6 * n), 'workflow', extract(epoch FROM clock_timestamp() - t_start) * 1e6 / n);
END
$block$`;
}

/** PGMQ's read and send against the same statements written out, on an empty queue of its own. */
const PGMQ_BLOCK = `DO $block$
DECLARE n int := 2000; t0 timestamptz; r_fn float8; r_sql float8; s_fn float8; s_sql float8;
BEGIN
  PERFORM tasker.ensure_namespace('call_costs');
  t0 := clock_timestamp();
  FOR i IN 1..n LOOP PERFORM * FROM pgmq.read('worker_call_costs_queue', 30, 1); END LOOP;
  r_fn := extract(epoch FROM clock_timestamp() - t0) * 1e6 / n;
  t0 := clock_timestamp();
  FOR i IN 1..n LOOP
    WITH cte AS (SELECT msg_id FROM pgmq.q_worker_call_costs_queue WHERE vt <= clock_timestamp()
                 ORDER BY msg_id LIMIT 1 FOR UPDATE SKIP LOCKED)
    UPDATE pgmq.q_worker_call_costs_queue m
       SET last_read_at = clock_timestamp(), vt = clock_timestamp() + interval '30 seconds', read_ct = read_ct + 1
      FROM cte WHERE m.msg_id = cte.msg_id;
  END LOOP;
  r_sql := extract(epoch FROM clock_timestamp() - t0) * 1e6 / n;
  t0 := clock_timestamp();
  FOR i IN 1..n LOOP PERFORM pgmq.send('worker_call_costs_queue', '{}'::jsonb); END LOOP;
  s_fn := extract(epoch FROM clock_timestamp() - t0) * 1e6 / n;
  t0 := clock_timestamp();
  FOR i IN 1..n LOOP
    INSERT INTO pgmq.q_worker_call_costs_queue (vt, message, headers) VALUES (clock_timestamp(), '{}'::jsonb, NULL);
  END LOOP;
  s_sql := extract(epoch FROM clock_timestamp() - t0) * 1e6 / n;
  RAISE NOTICE 'call-costs %', json_build_object('read', r_fn, 'read_sql', r_sql, 'send', s_fn, 'send_sql', s_sql);
  RAISE EXCEPTION USING ERRCODE = 'TK999', MESSAGE = 'call-costs: rolled back';
END
$block$`;

/** Runs a block and returns the JSON object its `call-costs` notice carried. */
async function runBlock<T>(client: pg.Client, sql: string, rollsBack = false): Promise<T> {
  let payload: string | undefined;
  const listener = (notice: { message?: string }): void => {
    const match = /^call-costs (.*)$/s.exec(notice.message ?? '');
    if (match !== null) payload = match[1];
  };
  client.on('notice', listener);
  try {
    await client.query(sql).catch((error: unknown) => {
      if (!(rollsBack && error instanceof Error && (error as Error & { code?: string }).code === 'TK999')) throw error;
    });
  } finally {
    client.off('notice', listener);
  }
  if (payload === undefined) throw new Error('call-costs: the block reported nothing');
  return JSON.parse(payload) as T;
}

async function setLogTriggers(client: pg.Client, enabled: boolean): Promise<void> {
  for (const entry of LOG_TRIGGERS) {
    const [table, trigger] = entry.split(' ') as [string, string];
    await client.query(`ALTER TABLE ${table} ${enabled ? 'ENABLE' : 'DISABLE'} TRIGGER ${trigger}`);
  }
}

async function main(): Promise<void> {
  const server = await resolveDatabase();
  await withMigratedDatabase(server.url, `tasker_call_costs_${process.pid}`, async (client) => {
    await registerLinearTemplate(client);
    // Warm-up: plans made and caches filled before anything is timed.
    await runBlock<RoundCosts>(client, workflowBlock(Math.min(50, workflows), true));
    const costs = new Map<Arrangement, RoundCosts[]>(ARRANGEMENTS.map((arrangement) => [arrangement, []]));
    for (let round = 0; round < rounds; round++) {
      for (const arrangement of ARRANGEMENTS) {
        if (arrangement === 'commit, no log') await setLogTriggers(client, false);
        try {
          const result = await runBlock<RoundCosts>(client, workflowBlock(workflows, arrangement !== 'one transaction'));
          costs.get(arrangement)?.push(result);
        } finally {
          if (arrangement === 'commit, no log') await setLogTriggers(client, true);
        }
      }
    }
    const pgmq = await runBlock<Record<'read' | 'read_sql' | 'send' | 'send_sql', number>>(client, PGMQ_BLOCK, true);

    const fields: ReadonlyArray<keyof RoundCosts> = ['create_task', 'claim_steps', 'report_and_claim', 'commit', 'workflow'];
    console.log(`Inside the server, µs (median over ${rounds} rounds of ${workflows} 4-step workflows, mean per call in a round)`);
    console.log(`| arrangement | ${fields.join(' | ')} |`);
    console.log(`|---|${fields.map(() => '---').join('|')}|`);
    for (const arrangement of ARRANGEMENTS) {
      const rows = costs.get(arrangement) ?? [];
      console.log(`| ${arrangement} | ${fields.map((field) => p50(rows.map((row) => row[field])).toFixed(0)).join(' | ')} |`);
    }
    console.log(`PGMQ per call, µs: pgmq.read ${pgmq.read.toFixed(0)} (its statement written out: ${pgmq.read_sql.toFixed(0)}), ` +
      `pgmq.send ${pgmq.send.toFixed(0)} (${pgmq.send_sql.toFixed(0)})`);
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
