import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { generateConfig } from '../../config/generate.ts';
import { envValue, processEnv } from '../../config/environment.ts';
import { displayPath } from '../../config/layers.ts';
import { ConfigOutputError } from '../cli-errors.ts';
import { EXIT_OK } from '../exit-codes.ts';
import { parseOptions } from '../parse-options.ts';
import { contextOption } from './config-args.ts';

const HELP = `Usage: tasker-ctl config generate --context orchestration|worker [--environment ENV] [--output PATH]

Merges the config tree (base, then environments/ENV, then the context's files) into the one file
a deployment points TASKER_CONFIG_PATH at, after checking it. Environment variables are not
written: they still override the file at run time. DATABASE_URL is never written.

Options:
  --context NAME       orchestration | worker (required)
  --environment ENV    test | development | production (default: $TASKER_ENV, else development)
  --output PATH        where to write (default config/<context>.toml; - for stdout)
  --root DIR           the config tree (default: $TASKER_CONFIG_ROOT, else config/tasker)
  -h, --help           show this help

Exit status: 0 written, 2 usage or configuration error (every problem is listed).`;

/** `tasker-ctl config generate`. */
export async function configGenerateCommand(args: readonly string[]): Promise<number> {
  const { values } = parseOptions(args, {
    context: { type: 'string' },
    environment: { type: 'string' },
    output: { type: 'string' },
    root: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    console.log(HELP);
    return EXIT_OK;
  }
  const context = contextOption(values.context, true);
  // Blank TASKER_ENV is unset here too, as for every service and `config show`.
  const environment = values.environment ?? envValue(processEnv(), 'TASKER_ENV') ?? 'development';
  const { text, config } = await generateConfig({ context, environment, ...(values.root === undefined ? {} : { root: values.root }) });
  const output = values.output ?? `config/${context}.toml`;
  if (output === '-') {
    process.stdout.write(text);
    return EXIT_OK;
  }
  const path = resolve(output);
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  } catch (error) {
    throw new ConfigOutputError(displayPath(path), error);
  }
  console.error(
    `[SUCCESS] wrote ${displayPath(path)}: ${context} context, ${config.environment} environment, ` +
      `from ${config.files.length} file${config.files.length === 1 ? '' : 's'}`,
  );
  return EXIT_OK;
}
