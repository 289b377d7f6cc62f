/**
 * Review of YAML template parsing (sdk/src/template): templates docs/templates.md calls valid
 * must parse, and templates the parser accepts must register (the database is the authority).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerTemplate } from '../../sdk/src/protocol/index.ts';
import { parseTemplate, TemplateError } from '../../sdk/src/template/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

const HEAD = 'namespace: review_yaml\nname: shared_retry\nversion: "1.0.0"\nsteps:\n';

/** A template of `count` steps, each reusing one anchored retry block the way the docs suggest. */
function sharedRetry(count: number, style: 'alias' | 'merge'): string {
  const lines = [HEAD, '  - name: s0\n    handler: h.s\n    retry: &patient { max_attempts: 5, backoff_ms: 100, max_backoff_ms: 1000 }\n'];
  for (let i = 1; i < count; i++) {
    const retry = style === 'alias' ? '*patient' : '{ <<: *patient, max_attempts: 10 }';
    lines.push(`  - name: s${i}\n    handler: h.s\n    retry: ${retry}\n`);
  }
  return lines.join('');
}

describe('YAML anchors shared by many steps', () => {
  it('a 150-step template whose steps share one retry block through an alias parses', () => {
    const template = parseTemplate(sharedRetry(150, 'alias'), 'templates/shared_retry.yaml');
    expect(template.steps).toHaveLength(150);
    expect(template.steps[149]?.retry).toEqual({ max_attempts: 5, backoff_ms: 100, max_backoff_ms: 1000 });
  });

  it('a 150-step template whose steps merge one retry block (`<<: *patient`, the documented style) parses', () => {
    const template = parseTemplate(sharedRetry(150, 'merge'), 'templates/shared_retry.yaml');
    expect(template.steps[149]?.retry).toEqual({ max_attempts: 10, backoff_ms: 100, max_backoff_ms: 1000 });
  });
});

describe('optional fields written as null (docs/templates.md, Fields)', () => {
  it('`retryable:` left empty is the one refused, naming the field (the database refuses it too)', () => {
    const text = `${HEAD}  - name: a\n    handler: h.a\n    retry:\n      max_attempts: 2\n      retryable:\n`;
    expect(() => parseTemplate(text, 'templates/retryable_empty.yaml')).toThrow(
      /templates\/retryable_empty.yaml:9:17: steps\[0\] \(a\).retry.retryable: must be true or false, got null/,
    );
  });
});

describe('a template the parser accepts registers', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('a description with a NUL character is refused by the parser, naming the field (PostgreSQL cannot store it)', () => {
    const text = 'namespace: review_yaml\nname: nul_description\nversion: "1.0.0"\ndescription: "before\\0after"\nsteps:\n  - name: a\n    handler: h.a\n';
    let refused: unknown;
    try {
      parseTemplate(text, 'templates/nul.yaml');
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(TemplateError);
    expect((refused as TemplateError).field).toBe('description');
  });
});
