/**
 * awkward_json: text and numbers that are easy to damage on the way through a binding — emoji and
 * other characters outside the BMP, control characters, separators JavaScript treats specially,
 * deep nesting, and integers beyond 2^53, which JSON numbers cannot carry exactly in JavaScript
 * and are therefore carried as strings.
 */
import type { JsonObject, JsonValue } from '@tasker/sdk';
import { awkwardStats } from '../handlers/payloads.ts';
import { recordedResult } from '../recorded-result.ts';
import type { Scenario } from '../scenario.ts';
import { step, template } from './template.ts';

/** Nesting depth of `deep`, alternating objects and arrays (results may nest up to 1,000 levels; the echo adds two). */
export const AWKWARD_DEPTH = 990;

function nested(depth: number): JsonValue {
  let node: JsonValue = 'bottom';
  for (let level = depth; level > 0; level -= 1) node = level % 2 === 0 ? [node] : { next: node };
  return node;
}

const context: JsonObject = {
  emoji: '👩‍👩‍👧‍👦 🚀 😀 🏳️‍🌈 👍🏽',
  nonBmp: '𝄞 𠜎 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🀄',
  controls: '\u0001\u0002\u0007\b\f\n\r\t\u000b\u001b\u001f\u007f\u0080\u009f',
  separators: 'line\u2028paragraph\u2029end',
  quotes: '"\'\\/`<>&',
  combining: 'e\u0301 n\u0303 \u0915\u094d\u0937',
  rightToLeft: 'مرحبا שלום',
  bom: '\ufeffstart',
  noncharacters: '\ufffe\uffff\u{10ffff}',
  bigIntegers: ['9007199254740993', '-9007199254740993', '18446744073709551617', '123456789012345678901234567890'],
  numbers: { maxSafe: 9007199254740991, minSafe: -9007199254740991, tiny: 1e-7, huge: 1.7976931348623157e308, tenth: 0.1, zero: 0 },
  keys: { '': 'empty key', 'ключ 🔑': 'unicode key', 'a.b[0]': 'path-like key', 'line\nbreak': 'control in a key' },
  deep: nested(AWKWARD_DEPTH),
};
const stats = awkwardStats(context);

export const awkwardJson: Scenario = {
  name: 'awkward_json',
  description: `non-BMP text, control characters, separators, ${AWKWARD_DEPTH}-deep nesting and beyond-2^53 integers (as strings) round-trip unchanged through context, result and dependency result`,
  template: template('awkward_json', 'echo an awkward context and check the echo', [
    step('echo', 'cf.awkward_echo'),
    step('verify', 'cf.awkward_verify', { dependencies: ['echo'] }),
  ]),
  tasks: [{ label: 'task', context }],
  expect: {
    tasks: {
      task: {
        state: 'complete',
        steps: {
          echo: { state: 'complete', result: recordedResult({ echo: context, stats }) },
          verify: { state: 'complete', result: { sameAsContext: true, statsAgree: true, stats } },
        },
      },
    },
    ordering: [],
  },
};
