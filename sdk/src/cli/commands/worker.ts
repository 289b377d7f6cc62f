import { resolve } from 'node:path';
import { BINDING_NAMES } from '../../binding/select.ts';
import type { BindingName } from '../../binding/types.ts';
import { loadConfig } from '../../config/load.ts';
import { SHUTDOWN_GRACE_MS, WORKER_CONCURRENCY } from '../../config/schema.ts';
import { UsageError } from '../../errors.ts';
import type { TaskTemplate } from '../../protocol/types.ts';
import { loadTemplateDir } from '../../template/index.ts';
import { NAMESPACE } from '../../template/template-rules.ts';
import { Worker } from '../../worker/index.ts';
import { MissingHandlersError } from '../cli-errors.ts';
import { withDatabase } from '../database-session.ts';
import { EXIT_OK } from '../exit-codes.ts';
import { integerOption, parseOptions } from '../parse-options.ts';
import { loadHandlerDirs, type FoundHandler } from './handler-modules.ts';
import { templateKey } from './template-load.ts';

const HELP = `Usage: tasker-ctl worker --handlers DIR [--handlers DIR...] [--namespace NS[,NS]] [options]

Runs a worker on the current runtime (node, bun or deno) until SIGTERM or SIGINT, then drains:
running steps get the grace period to finish and report, and the command exits 0.

Handlers are found by importing every module at the top of each --handlers directory (.js and
.mjs; .ts and .mts too on Bun, Deno, and Node versions that strip types) and collecting what
they export, named or default: defineHandler(...) results, StepHandler subclasses and
instances, and arrays of these. A directory without any handler is refused.

Options:
  --handlers DIR          directory of handler modules (repeatable; required)
  --namespace NS[,NS]     namespaces to serve (repeatable or comma-separated); default:
                          worker.namespaces of the config, else the namespaces of the --templates
  --templates DIR         directory of YAML templates (repeatable): gives the default
                          namespaces, and every handler their steps name must be exported
                          (the worker refuses to start otherwise). Registering them is the
                          orchestrator's or \`template register\`'s job.
  --concurrency N         most steps running at once (default: worker.concurrency, 10)
  --binding NAME          napi | ffi | pg (default: worker.binding: $TASKER_BINDING, else napi)
  --shutdown-grace-ms N   how long a drain waits for running steps (default:
                          worker.shutdown_grace_ms, 30000)
  -h, --help              show this help

Settings come from the worker configuration (docs/config.md): TASKER_CONFIG_PATH, or the tree
config/tasker for TASKER_ENV, then environment variables (TASKER_WORKER_CONCURRENCY,
TASKER_WORKER_DEPLOYMENT_MODE, TASKER_BINDING, ...); a flag wins over all of them. The log
format and level are the config's too. \`tasker-ctl config show --context worker\` prints them.

Environment: DATABASE_URL (else the embedded server), TASKER_ENV, TASKER_CONFIG_PATH,
TASKER_INSTANCE_ID (0-9: instance i of a cluster serves REST on 8085 + i, gRPC on 9400 + i).

Exit status: 0 stopped after a drain, 1 failure (handler module, database, binding), 2 usage
or configuration error.`;

/** `tasker-ctl worker`. */
export async function workerCommand(args: readonly string[]): Promise<number> {
  const { values } = parseOptions(args, {
    handlers: { type: 'string', multiple: true },
    namespace: { type: 'string', multiple: true },
    templates: { type: 'string', multiple: true },
    concurrency: { type: 'string' },
    binding: { type: 'string' },
    'shutdown-grace-ms': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    console.log(HELP);
    return EXIT_OK;
  }
  // One directory named twice (`dir` and `dir/`) is imported once.
  const seen = new Set<string>();
  const handlerDirs = (values.handlers ?? []).filter((dir) => !seen.has(resolve(dir)) && seen.add(resolve(dir)));
  if (handlerDirs.length === 0) throw new UsageError('worker needs --handlers DIR');
  const concurrency = integerOption(values.concurrency, '--concurrency', WORKER_CONCURRENCY.min, WORKER_CONCURRENCY.max);
  const shutdownGraceMs = integerOption(values['shutdown-grace-ms'], '--shutdown-grace-ms', SHUTDOWN_GRACE_MS.min, SHUTDOWN_GRACE_MS.max);
  const binding = bindingOption(values.binding);
  // A bad setting is reported (exit 2) before any handler module is imported or server started.
  const config = await loadConfig({ context: 'worker' });
  const flagNamespaces = (values.namespace ?? []).flatMap((list) => list.split(',')).map((ns) => ns.trim()).filter((ns) => ns !== '');
  // Every check that needs no handler module comes first: a bad flag costs no import.
  for (const ns of flagNamespaces) {
    if (!NAMESPACE.pattern.test(ns)) throw new UsageError(`--namespace ${JSON.stringify(ns)} is not valid: ${NAMESPACE.hint}`);
  }
  const explicitNamespaces = flagNamespaces.length > 0 ? flagNamespaces : config.worker.namespaces;
  if (explicitNamespaces.length === 0 && values.templates === undefined) {
    throw new UsageError(
      'worker needs --namespace NS (or worker.namespaces in the config, or --templates DIR to serve the namespaces of its templates)',
    );
  }

  // Everything that can be wrong locally is checked before touching the database.
  const templates: Array<{ file: string; template: TaskTemplate }> = [];
  for (const dir of values.templates ?? []) templates.push(...(await loadTemplateDir(dir)));
  const handlers = await loadHandlerDirs(handlerDirs);
  const namespaces = explicitNamespaces.length > 0 ? [...new Set(explicitNamespaces)] : [...new Set(templates.map((t) => t.template.namespace))];
  if (namespaces.length === 0) throw new UsageError(`no templates found in ${(values.templates ?? []).join(', ')} to take namespaces from`);
  checkHandlersCover(templates.filter((t) => namespaces.includes(t.template.namespace)), handlers);

  console.error(
    `[INFO] ${handlers.length} handler${handlers.length === 1 ? '' : 's'} from ${handlerDirs.join(', ')}: ${handlers
      .map((h) => h.definition.name)
      .sort()
      .join(', ')}; serving ${namespaces.join(', ')}`,
  );
  await withDatabase(async (databaseUrl) => {
    const worker = Worker.fromConfig(config, {
      namespaces,
      handlers: handlers.map((h) => h.definition),
      databaseUrl,
      ...(concurrency === undefined ? {} : { concurrency }),
      ...(binding === undefined ? {} : { binding }),
      ...(shutdownGraceMs === undefined ? {} : { shutdownGraceMs }),
    });
    await worker.run();
  });
  return EXIT_OK;
}

function bindingOption(value: string | undefined): BindingName | undefined {
  if (value === undefined) return undefined;
  const binding = BINDING_NAMES.find((name) => name === value);
  if (binding === undefined) throw new UsageError(`--binding expects one of ${BINDING_NAMES.join(', ')}, got "${value}"`);
  return binding;
}

/** Refuses to start a worker that would fail its namespaces' steps with "unknown handler". */
function checkHandlersCover(templates: ReadonlyArray<{ file: string; template: TaskTemplate }>, handlers: readonly FoundHandler[]): void {
  const names = new Set(handlers.map((h) => h.definition.name));
  const missing = templates.flatMap(({ file, template }) => {
    const handlers = [...new Set(template.steps.map((step) => step.handler).filter((name) => !names.has(name)))];
    return handlers.length === 0 ? [] : [{ template: templateKey(template), file, handlers }];
  });
  if (missing.length > 0) throw new MissingHandlersError(missing);
}
