/**
 * What named migrations change in the SQL's speed, measured A/B and interleaved: two throwaway
 * databases on one server, one migrated with every file in migrations/ ("with"), one with the
 * named files left out ("without"), both from one copy of the directory taken at the start. This
 * machine's speed drifts by ±20% over minutes, so running one variant and then the other says
 * little about a migration; here the two take turns, round by round (and which goes first
 * alternates), so the drift hits both alike.
 *   - batch: `--tasks` tasks created in one statement per database (single-step, or chains of
 *     `--steps` steps whose reports each enqueue a successor), VACUUM ANALYZE,
 *     then per turn one claim_steps of `--batch`, one heartbeat (extend_leases) and one
 *     report_steps of those leases in each database, until both are drained; µs per step in
 *     claim + report, in claim_steps, in report_steps, and in extend_leases per lease;
 *   - workflow: sql-profile's 4-step linear workflow (create_task, claim_steps for the first
 *     step, report_and_claim per step), one whole workflow per database per turn, `--workflows`
 *     of them after 20 warm-up ones each; p50 and p90 of the workflow, p50 of each call (ms).
 * Prints a table and one JSON line; `--record` appends them to bench/results/migration-ab.md.
 *
 *   node bench/dist/migration-ab.js --without 0021,0022 [--batch 50] [--tasks 5000] [--steps 1] [--workflows 200] [--record]
 *
 * `--without` takes migration numbers (4 digits) or file names, comma-separated. Leaving out a
 * migration a later one needs makes the "without" database fail to migrate, and says so.
 * PostgreSQL: DATABASE_URL, else the embedded server; the databases tasker_ab_with_<pid> and
 * tasker_ab_without_<pid> are created and dropped.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import {
  createDatabase,
  defaultMigrationsDir,
  defaultPgmqDir,
  dropDatabase,
  listMigrationFiles,
  resolveDatabase,
  runMigrations,
  withDatabaseName,
  type MigrationFile,
} from '@tasker/sdk';
import pg from 'pg';
import {
  claimSingleSteps,
  createTasksInBulk,
  extendLeases,
  registerChainTemplate,
  emptyWorkflowTimes,
  registerLinearTemplate,
  registerSingleStepTemplate,
  reportSuccesses,
  runLinearWorkflow,
  type WorkflowTimes,
} from './sql-workloads.ts';
import { p50, percentile } from './stats.ts';

const WARMUP = 20;
const USAGE = 'usage: node bench/dist/migration-ab.js --without 0021,0022 [--batch 50] [--tasks 5000] [--steps 1] [--workflows 200] [--record]';

type Label = 'with' | 'without';

interface Options {
  without: string[];
  batch: number;
  tasks: number;
  /** Steps per task in the batch workload (a chain); 1 = single-step tasks. */
  steps: number;
  workflows: number;
  record: boolean;
}

/** One database's session, and which variant it is. */
interface Side {
  label: Label;
  client: pg.Client;
}

/** What to let go of at the end, whatever happened. */
interface Held {
  databases: string[];
  clients: pg.Client[];
}

interface BatchFigures {
  steps: number;
  us_per_step: number;
  claim_us_per_step: number;
  report_us_per_step: number;
  extend_us_per_lease: number;
}

interface WorkflowFigures {
  workflows: number;
  workflow_p50_ms: number;
  workflow_p90_ms: number;
  create_task_p50_ms: number;
  claim_steps_p50_ms: number;
  report_and_claim_p50_ms: number;
}

interface Results {
  batch: Record<Label, BatchFigures>;
  workflow: Record<Label, WorkflowFigures>;
}

/** A failure whose message says all there is to say: printed without a stack. */
class BenchError extends Error {}

let interrupted = false;

function positiveInteger(name: string, value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new BenchError(`--${name} must be a positive integer, not "${value}"\n${USAGE}`);
  return number;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      without: { type: 'string' },
      batch: { type: 'string', default: '50' },
      tasks: { type: 'string', default: '5000' },
      steps: { type: 'string', default: '1' },
      workflows: { type: 'string', default: '200' },
      record: { type: 'boolean', default: false },
    },
  });
  const without = (values.without ?? '').split(',').map((token) => token.trim()).filter((token) => token !== '');
  if (without.length === 0) throw new BenchError(`--without names no migration\n${USAGE}`);
  return {
    without,
    batch: positiveInteger('batch', values.batch),
    tasks: positiveInteger('tasks', values.tasks),
    steps: positiveInteger('steps', values.steps),
    workflows: positiveInteger('workflows', values.workflows),
    record: values.record,
  };
}

/** The file a `--without` token names: `0021` by number, else by file name (`.sql` optional). */
function findMigration(files: readonly MigrationFile[], token: string): MigrationFile {
  const name = basename(token);
  const found = /^\d{4}$/.test(token)
    ? files.find((file) => file.version === Number(token))
    : files.find((file) => file.name === name || file.name === `${name}.sql`);
  if (found !== undefined) return found;
  const range = files.length === 0 ? 'none' : `${files[0]!.name} … ${files[files.length - 1]!.name}`;
  throw new BenchError(`--without ${token}: no such migration in ${defaultMigrationsDir()} (there: ${range})`);
}

/** Copies `files` into a new directory `dir`: real files, as the migration reader skips links. */
async function copyMigrations(files: readonly MigrationFile[], dir: string): Promise<string> {
  await mkdir(dir);
  for (const file of files) await copyFile(file.path, join(dir, file.name));
  return dir;
}

/** Creates `database`, migrates it from `dir` and opens a session holding both templates. */
async function openSide(serverUrl: string, label: Label, database: string, dir: string, leftOut: readonly MigrationFile[], held: Held): Promise<Side> {
  progress(`creating and migrating ${database}`);
  await createDatabase(serverUrl, database);
  held.databases.push(database);
  const url = withDatabaseName(serverUrl, database);
  try {
    await runMigrations({ databaseUrl: url, migrationsDir: dir, pgmqDir: defaultPgmqDir(), log: () => {} });
  } catch (error) {
    const what = label === 'with' ? 'every migration' : `every migration but ${leftOut.map((file) => file.name).join(', ')}`;
    throw new BenchError(`Migrating the "${label}" database ${database} (${what}) failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const client = new pg.Client({ connectionString: url });
  held.clients.push(client);
  await client.connect();
  await registerSingleStepTemplate(client);
  await registerLinearTemplate(client);
  return { label, client };
}

/** Closes the sessions and drops the databases; reports, but does not throw, what fails. */
async function releaseAll(serverUrl: string, held: Held): Promise<void> {
  for (const client of held.clients) await client.end().catch(() => {});
  for (const database of held.databases) {
    await dropDatabase(serverUrl, database).catch((error: unknown) => progress(`could not drop ${database}: ${String(error)}`));
  }
}

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** The sides in the order of `turn`: every other turn reversed, so neither always goes first. */
function turnOrder(sides: readonly Side[], turn: number): Side[] {
  return turn % 2 === 0 ? [...sides] : [...sides].reverse();
}

function checkInterrupted(): void {
  if (interrupted) throw new BenchError('Interrupted');
}

/** Runs `work` for each side per turn, `turns` turns, alternating which side goes first. */
async function alternate(sides: readonly Side[], turns: number, work: (side: Side) => Promise<void>): Promise<void> {
  for (let turn = 0; turn < turns; turn += 1) {
    for (const side of turnOrder(sides, turn)) {
      checkInterrupted();
      await work(side);
    }
  }
}

interface BatchTotals {
  steps: number;
  claimMs: number;
  reportMs: number;
  extendMs: number;
}

/**
 * One claim_steps of `batch`, a heartbeat of the leases and one report_steps of them, timed into
 * `totals`.
 */
async function batchRound(side: Side, batch: number, goal: number, totals: BatchTotals): Promise<void> {
  let t0 = performance.now();
  const leases = await claimSingleSteps(side.client, batch);
  totals.claimMs += performance.now() - t0;
  if (leases.length === 0) throw new BenchError(`"${side.label}": claim_steps claimed nothing after ${totals.steps} of ${goal} steps`);
  t0 = performance.now();
  await extendLeases(side.client, leases);
  totals.extendMs += performance.now() - t0;
  t0 = performance.now();
  await reportSuccesses(side.client, leases);
  totals.reportMs += performance.now() - t0;
  totals.steps += leases.length;
}

function batchFigures(totals: BatchTotals): BatchFigures {
  const perStep = (ms: number): number => Math.round((ms * 1000) / totals.steps);
  return {
    steps: totals.steps,
    us_per_step: perStep(totals.claimMs + totals.reportMs),
    claim_us_per_step: perStep(totals.claimMs),
    report_us_per_step: perStep(totals.reportMs),
    extend_us_per_lease: perStep(totals.extendMs),
  };
}

/** The batch workload: `tasks` single-step tasks per database, drained `batch` at a time, in turns. */
async function batchWorkload(sides: readonly Side[], options: Options): Promise<Record<Label, BatchFigures>> {
  progress(`batch: creating ${options.tasks} tasks per database`);
  for (const side of sides) {
    const template = options.steps === 1 ? 'single' : await registerChainTemplate(side.client, options.steps);
    await createTasksInBulk(side.client, options.tasks, template);
  }
  for (const side of sides) await side.client.query('VACUUM ANALYZE');
  const totals = new Map(sides.map((side) => [side, { steps: 0, claimMs: 0, reportMs: 0, extendMs: 0 }]));
  // A chain's next step is enqueued by the report of the one before, behind the roots in the
  // queue: every round still finds a full batch until the last.
  const goal = options.tasks * options.steps;
  const turns = Math.ceil(goal / options.batch);
  progress(`batch: ${turns} turns of claim_steps + extend_leases + report_steps of ${options.batch}`);
  await alternate(sides, turns, (side) => batchRound(side, options.batch, goal, totals.get(side)!));
  for (const [side, { steps }] of totals) {
    if (steps !== goal) throw new BenchError(`"${side.label}": drained ${steps} of ${goal} steps`);
  }
  return perSide(sides, (side) => batchFigures(totals.get(side)!));
}

function workflowFigures(times: WorkflowTimes): WorkflowFigures {
  return {
    workflows: times.workflow.length,
    workflow_p50_ms: p50(times.workflow),
    workflow_p90_ms: percentile(times.workflow, 0.9),
    create_task_p50_ms: p50(times.create_task),
    claim_steps_p50_ms: p50(times.claim_steps),
    report_and_claim_p50_ms: p50(times.report_and_claim),
  };
}

/** The workflow workload: `workflows` 4-step workflows per database after WARMUP, in turns. */
async function workflowWorkload(sides: readonly Side[], options: Options): Promise<Record<Label, WorkflowFigures>> {
  progress(`workflow: ${WARMUP} warm-up and ${options.workflows} measured workflows per database`);
  const warmup = emptyWorkflowTimes();
  await alternate(sides, WARMUP, (side) => runLinearWorkflow(side.client, warmup));
  const times = new Map(sides.map((side) => [side, emptyWorkflowTimes()]));
  await alternate(sides, options.workflows, (side) => runLinearWorkflow(side.client, times.get(side)!));
  return perSide(sides, (side) => workflowFigures(times.get(side)!));
}

function perSide<T>(sides: readonly Side[], figure: (side: Side) => T): Record<Label, T> {
  const [withSide, withoutSide] = [sides.find((side) => side.label === 'with')!, sides.find((side) => side.label === 'without')!];
  return { with: figure(withSide), without: figure(withoutSide) };
}

/** (with − without) / without, signed, in percent. */
function change(withValue: number, withoutValue: number): string {
  if (!(withoutValue > 0)) return '–';
  const percent = ((withValue - withoutValue) / withoutValue) * 100;
  return `${percent > 0 ? '+' : ''}${percent.toFixed(1)}%`;
}

function table(results: Results, options: Options): string {
  const { batch, workflow } = results;
  const chain = options.steps === 1 ? '' : ` (${options.steps}-step chains)`;
  const rows: [string, number, number][] = [
    [`batch of ${options.batch}${chain}: µs per step, claim + report`, batch.with.us_per_step, batch.without.us_per_step],
    [`batch of ${options.batch}${chain}: claim_steps µs per step`, batch.with.claim_us_per_step, batch.without.claim_us_per_step],
    [`batch of ${options.batch}${chain}: report_steps µs per step`, batch.with.report_us_per_step, batch.without.report_us_per_step],
    [`batch of ${options.batch}${chain}: extend_leases µs per lease`, batch.with.extend_us_per_lease, batch.without.extend_us_per_lease],
    ['workflow p50 (ms)', workflow.with.workflow_p50_ms, workflow.without.workflow_p50_ms],
    ['workflow p90 (ms)', workflow.with.workflow_p90_ms, workflow.without.workflow_p90_ms],
    ['create_task p50 (ms)', workflow.with.create_task_p50_ms, workflow.without.create_task_p50_ms],
    ['claim_steps p50 (ms)', workflow.with.claim_steps_p50_ms, workflow.without.claim_steps_p50_ms],
    ['report_and_claim p50 (ms)', workflow.with.report_and_claim_p50_ms, workflow.without.report_and_claim_p50_ms],
  ];
  return [
    '| figure | with | without | with vs without |',
    '|---|---|---|---|',
    ...rows.map(([name, withValue, withoutValue]) => `| ${name} | ${withValue} | ${withoutValue} | ${change(withValue, withoutValue)} |`),
  ].join('\n');
}

/** Output of `git` in the repository, or undefined when git fails. */
function git(root: string, args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

function shellQuote(arg: string): string {
  return /^[\w.,=/:@+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

/** The command as typed from the repository root. */
function commandLine(root: string): string {
  const script = process.argv[1] === undefined ? 'bench/dist/migration-ab.js' : relative(root, process.argv[1]);
  return ['node', script, ...process.argv.slice(2)].map(shellQuote).join(' ');
}

/**
 * The server's version, and the preloaded libraries when there are any: pg_stat_statements
 * tracking nested statements adds to every figure (both sides alike), so a record says so.
 */
async function serverVersion(client: pg.Client): Promise<string> {
  const version = (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? '(version unknown)';
  const preload = (await client.query<{ shared_preload_libraries: string }>('SHOW shared_preload_libraries')).rows[0]?.shared_preload_libraries ?? '';
  return preload === '' ? version : `${version}, shared_preload_libraries = '${preload}'`;
}

const RECORD_HEADER = `# Migration A/B: the same SQL with and without named migrations

Each section is one run of [\`migration-ab.ts\`](../migration-ab.ts): two throwaway databases on one
server, one migrated with every file in \`migrations/\` ("with"), one with the named files left out
("without"), both from one copy of the directory taken at the start. The workloads take turns
between the two databases, round by round, and which goes first alternates, so this machine's
drift in speed (±20% over minutes) hits both alike: compare the columns of one section, not
figures across sections.

- **batch**: \`--tasks\` tasks created in one statement per database (single-step, or chains of
  \`--steps\` steps, each report enqueueing a successor), \`VACUUM ANALYZE\`,
  then per turn one \`claim_steps\` of \`--batch\` and one \`report_steps\` of those leases in each
  database, until both are drained; µs per step.
- **workflow**: sql-profile's 4-step linear workflow (\`create_task\`, \`claim_steps\` for the first
  step, \`report_and_claim\` per step), one whole workflow per database per turn, \`--workflows\`
  of them after ${WARMUP} warm-up ones each, in the same databases after the batch workload; ms.

"with vs without" is (with − without) / without: negative means the left-out migrations make the
SQL faster (the "with" database is quicker).
`;

/** Appends a section to bench/results/migration-ab.md, creating it with RECORD_HEADER if missing. */
async function record(root: string, results: Results, options: Options, leftOut: readonly MigrationFile[], machine: string): Promise<string> {
  const file = join(root, 'bench', 'results', 'migration-ab.md');
  const head = git(root, ['rev-parse', '--short', 'HEAD']) ?? '(git HEAD unknown)';
  const uncommitted = git(root, ['status', '--porcelain', '--', 'migrations']);
  const leftOutNames = leftOut.map((migration) => `${migration.name} (sha256 ${migration.checksum.slice(0, 12)})`).join(', ');
  const section = [
    '',
    `## ${new Date().toISOString()}: without ${leftOut.map((migration) => migration.name).join(', ')}`,
    '',
    `\`${commandLine(root)}\`, code of ${head}` +
      (uncommitted === undefined || uncommitted === '' ? '' : ` with uncommitted changes in migrations/: ${uncommitted.split('\n').map((line) => `\`${line.trim()}\``).join(', ')}`) +
      '.',
    `Left out: ${leftOutNames}.`,
    `${machine}.`,
    `${options.tasks} tasks of ${options.steps} step(s) per database in batches of ${options.batch}; ${options.workflows} workflows per database after ${WARMUP} warm-up ones.`,
    '',
    table(results, options),
    '',
  ].join('\n');
  if (!existsSync(file)) await appendFile(file, RECORD_HEADER);
  await appendFile(file, section);
  return file;
}

async function measure(serverUrl: string, options: Options, leftOut: readonly MigrationFile[], dirs: Record<Label, string>, held: Held): Promise<{ results: Results; version: string }> {
  const sides = [
    await openSide(serverUrl, 'with', `tasker_ab_with_${process.pid}`, dirs.with, leftOut, held),
    await openSide(serverUrl, 'without', `tasker_ab_without_${process.pid}`, dirs.without, leftOut, held),
  ];
  const version = await serverVersion(sides[0]!.client);
  const batch = await batchWorkload(sides, options);
  const workflow = await workflowWorkload(sides, options);
  return { results: { batch, workflow }, version };
}

async function main(): Promise<void> {
  const options = parseOptions();
  const migrationsDir = defaultMigrationsDir();
  const root = dirname(migrationsDir);
  const files = await listMigrationFiles(migrationsDir);
  const leftOut = [...new Set(options.without.map((token) => findMigration(files, token)))].sort((a, b) => a.version - b.version);
  const kept = files.filter((file) => !leftOut.includes(file));
  process.once('SIGINT', () => {
    interrupted = true;
  });
  const snapshot = await mkdtemp(join(tmpdir(), 'tasker-migration-ab-'));
  const server = await resolveDatabase();
  const held: Held = { databases: [], clients: [] };
  try {
    const dirs = { with: await copyMigrations(files, join(snapshot, 'with')), without: await copyMigrations(kept, join(snapshot, 'without')) };
    progress(`with: ${files.length} migrations; without: ${kept.length} (left out ${leftOut.map((file) => file.name).join(', ')})`);
    const { results, version } = await measure(server.url, options, leftOut, dirs, held);
    const machine = `${cpus().length} cores / ${Math.round(totalmem() / 2 ** 30)} GiB, PostgreSQL ${version} (${server.embedded === undefined ? 'DATABASE_URL' : 'embedded, on the same cores'})`;
    console.log(`${table(results, options)}\n`);
    console.log(JSON.stringify({ without: leftOut.map((file) => file.name), batch_size: options.batch, tasks: options.tasks, steps_per_task: options.steps, warmup: WARMUP, ...results }));
    if (options.record) progress(`appended to ${await record(root, results, options, leftOut, machine)}`);
  } finally {
    await releaseAll(server.url, held);
    await rm(snapshot, { recursive: true, force: true });
    await server.release();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof BenchError ? `migration-ab: ${error.message}` : error);
  process.exit(1);
});
