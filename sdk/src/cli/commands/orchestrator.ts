import { loadConfig } from '../../config/load.ts';
import { SWEEP_INTERVAL_MS } from '../../config/schema.ts';
import { parseDeploymentMode } from '../../db/migration-settings.ts';
import { Orchestrator } from '../../orchestration/index.ts';
import { loadTemplateDir } from '../../template/index.ts';
import { withDatabase } from '../database-session.ts';
import { EXIT_OK } from '../exit-codes.ts';
import { integerOption, parseOptions } from '../parse-options.ts';

const HELP = `Usage: tasker-ctl orchestrator [--templates DIR]... [options]

Runs the orchestration service on the current runtime until SIGTERM or SIGINT: applies the
migrations (per --mode), registers the templates found in each --templates directory, and
sweeps expired leases (dead-lettering poison steps) and task deadlines as
orchestration.deployment_mode says: Hybrid (default) when they fall due and at least every
sweep interval, EventDrivenOnly only when they fall due, PollingOnly every sweep interval.

Options:
  --templates DIR          directory of YAML templates to register at start (repeatable)
  --sweep-interval-ms N    sweep interval of PollingOnly and Hybrid's safety net (default:
                           orchestration.sweep_interval_ms, 1000; at least 10)
  --mode MODE              standard | migrate-only | no-migrate (default:
                           orchestration.migrations.mode: $DEPLOYMENT_MODE, else standard);
                           migrate-only migrates and exits 0
  -h, --help               show this help

Settings come from the orchestration configuration (docs/config.md): TASKER_CONFIG_PATH, or the
tree config/tasker for TASKER_ENV, then environment variables (DEPLOYMENT_MODE,
DB_MIGRATION_TIMEOUT, DB_MIGRATION_RETRIES, TASKER_ORCHESTRATION_DEPLOYMENT_MODE,
TASKER_ORCHESTRATION_SWEEP_INTERVAL_MS, ...); a flag wins over all of them. \`tasker-ctl config
show --context orchestration\` prints them.

Environment: DATABASE_URL (else the embedded server), TASKER_ENV, TASKER_CONFIG_PATH,
TASKER_INSTANCE_ID (0-9: instance i of a cluster serves REST on 8080 + i, gRPC on 9190 + i).

Exit status: 0 stopped on a signal (or migrate-only finished), 1 failure (migration, template,
database), 2 usage or configuration error.`;

/** `tasker-ctl orchestrator`. */
export async function orchestratorCommand(args: readonly string[]): Promise<number> {
  const { values } = parseOptions(args, {
    templates: { type: 'string', multiple: true },
    'sweep-interval-ms': { type: 'string' },
    mode: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    console.log(HELP);
    return EXIT_OK;
  }
  const sweepIntervalMs = integerOption(values['sweep-interval-ms'], '--sweep-interval-ms', SWEEP_INTERVAL_MS.min, SWEEP_INTERVAL_MS.max);
  const deploymentMode = values.mode === undefined ? undefined : parseDeploymentMode(values.mode, '--mode');
  const templateDirs = values.templates ?? [];
  const config = await loadConfig({ context: 'orchestration' });
  // A bad template fails the command here, before any database work, with its file and field.
  for (const dir of templateDirs) await loadTemplateDir(dir);

  const started = await withDatabase((databaseUrl) => {
    const orchestrator = Orchestrator.fromConfig(config, {
      databaseUrl,
      templateDirs,
      ...(sweepIntervalMs === undefined ? {} : { sweepIntervalMs }),
      ...(deploymentMode === undefined ? {} : { deploymentMode }),
    });
    return orchestrator.run();
  });
  if (!started.serving) {
    console.error(`[SUCCESS] migrate-only: ${started.applied.length} migration(s) applied; nothing else to run`);
  }
  return EXIT_OK;
}
