/** large_payloads: a 1 MB task context and a 1 MB step result cross every binding intact. */
import type { JsonObject } from '@tasker/sdk';
import { jsonBytes, jsonDigest } from '../canonical-json.ts';
import { bigRows } from '../handlers/payloads.ts';
import { recordedResult } from '../recorded-result.ts';
import type { Scenario } from '../scenario.ts';
import { step, template } from './template.ts';

const MIB = 1_048_576;
const ROWS = 8_000;
// Mostly ASCII with multi-byte characters mixed in, so byte and character counts differ.
const pattern = 'The quick brown fox jumps over the lazy dog · Füchse springen · 狐狸 · 🦊 ';
const context: JsonObject = {
  blob: pattern.repeat(Math.ceil(MIB / pattern.length)).slice(0, MIB),
  meta: { purpose: 'a context of more than 1 MB' },
};
const made = { contextBytes: jsonBytes(context), contextSha256: jsonDigest(context), rows: bigRows(ROWS) };

export const largePayloads: Scenario = {
  name: 'large_payloads',
  description: `a ${(jsonBytes(context) / MIB).toFixed(2)} MiB context reaches both steps and a ${(jsonBytes(made) / MIB).toFixed(2)} MiB result reaches the next step, byte for byte`,
  template: template('large_payloads', 'big in, big out', [
    step('make', 'cf.big_make', { inputs: { rows: ROWS } }),
    step('check', 'cf.big_check', { dependencies: ['make'] }),
  ]),
  tasks: [{ label: 'task', context }],
  expect: {
    tasks: {
      task: {
        state: 'complete',
        steps: {
          make: { state: 'complete', result: recordedResult(made) },
          check: {
            state: 'complete',
            result: {
              contextBytes: jsonBytes(context),
              contextSha256: jsonDigest(context),
              contextSameAsMake: true,
              resultRows: ROWS,
              resultBytes: jsonBytes(made),
              resultSha256: jsonDigest(made),
            },
          },
        },
      },
    },
    ordering: [],
  },
};
