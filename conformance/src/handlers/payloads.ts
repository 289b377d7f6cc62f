/**
 * Handlers of the payload scenarios: a 1 MB context and a 1 MB result (`cf.big_make`,
 * `cf.big_check`), and JSON that is awkward to carry across a binding (`cf.awkward_echo`,
 * `cf.awkward_verify`). Each hashes or re-derives what it received, so a byte lost or changed in
 * any binding's crossing changes the trace.
 */
import { defineHandler, type HandlerDefinition, type JsonObject, type JsonValue } from '@tasker/sdk';
import { canonicalJson, jsonBytes, jsonDigest } from '../canonical-json.ts';
import { numberInput, objectValue } from './inputs.ts';

/** Rows of the big result: `count` rows of about 128 bytes, some of the text outside ASCII. */
export function bigRows(count: number): JsonValue[] {
  const rows: JsonValue[] = [];
  for (let i = 0; i < count; i += 1) {
    const tag = `row ${i} · ünïcødé · ${(i * 2654435761) % 4294967296}`;
    rows.push({ i, tag, pad: tag.padEnd(80, '.') });
  }
  return rows;
}

/** `cf.big_make`: hashes the (1 MB) context and returns `inputs.rows` rows (about 1 MB at 8,000). */
export const bigMake: HandlerDefinition = defineHandler('cf.big_make', (ctx) => {
  const rows = bigRows(numberInput(ctx.inputs, 'rows', 8_000));
  return { contextBytes: jsonBytes(ctx.context), contextSha256: jsonDigest(ctx.context), rows };
});

/** `cf.big_check`: what `make` said about the context against what this step sees, and the result's hash. */
export const bigCheck: HandlerDefinition = defineHandler('cf.big_check', (ctx) => {
  const made = objectValue(ctx.dependencyResult('make'), 'the result of "make"');
  const rows = made['rows'];
  return {
    contextBytes: jsonBytes(ctx.context),
    contextSha256: jsonDigest(ctx.context),
    contextSameAsMake: made['contextSha256'] === jsonDigest(ctx.context),
    resultRows: Array.isArray(rows) ? rows.length : -1,
    resultBytes: jsonBytes(made),
    resultSha256: jsonDigest(made),
  };
});

/** Facts about the awkward context that depend on every character and digit arriving intact. */
export function awkwardStats(context: JsonObject): JsonObject {
  const strings = Object.entries(context).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
  const bigIntegers = context['bigIntegers'];
  let bigSum = 0n;
  if (Array.isArray(bigIntegers)) for (const text of bigIntegers) if (typeof text === 'string') bigSum += BigInt(text);
  let depth = 0;
  let node: JsonValue | undefined = context['deep'];
  while (Array.isArray(node) || (typeof node === 'object' && node !== null)) {
    depth += 1;
    node = Array.isArray(node) ? node[0] : node['next'];
  }
  return {
    codePoints: Object.fromEntries(strings.map(([key, text]) => [key, [...text].length])),
    utf16Units: Object.fromEntries(strings.map(([key, text]) => [key, text.length])),
    bigSum: bigSum.toString(),
    depth,
    bytes: jsonBytes(context),
    sha256: jsonDigest(context),
  };
}

/** `cf.awkward_echo`: returns the context unchanged, with facts computed from it. */
export const awkwardEcho: HandlerDefinition = defineHandler('cf.awkward_echo', (ctx) => ({
  echo: ctx.context,
  stats: awkwardStats(ctx.context),
}));

/** `cf.awkward_verify`: the echo, after a trip through the database and back, must equal the context. */
export const awkwardVerify: HandlerDefinition = defineHandler('cf.awkward_verify', (ctx) => {
  const echoed = objectValue(ctx.dependencyResult('echo'), 'the result of "echo"');
  const echo = objectValue(echoed['echo'], 'the echo');
  return {
    sameAsContext: canonicalJson(echo) === canonicalJson(ctx.context),
    statsAgree: canonicalJson(echoed['stats']) === canonicalJson(awkwardStats(echo)),
    stats: awkwardStats(ctx.context),
  };
});
