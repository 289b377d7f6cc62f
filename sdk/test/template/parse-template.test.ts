import { describe, expect, it } from 'vitest';
import { TemplateError, checkTemplate, parseTemplate } from '../../src/template/index.ts';

const FILE = 'templates/order.yaml';

const valid = `# An order
namespace: shop
name: order
version: 1.2.3
description: Charge and ship
input_schema:
  type: object
  required: [orderId]
  properties:
    orderId: { type: integer }
steps:
  - name: validate
    handler: shop.validate
  - name: charge_payment
    handler: shop.charge
    dependencies: [validate]
    retry:
      max_attempts: 5
      backoff_ms: 500
      max_backoff_ms: 10000
      retryable: true
    timeout_ms: 15000
    max_deliveries: 3
    inputs:
      currency: EUR
      limits: { daily: 1000 }
  - name: route
    handler: shop.route
    type: decision
    dependencies: [charge_payment]
  - name: ship
    handler: shop.ship
    dependencies: [route]
`;

function failure(yaml: string): TemplateError {
  try {
    parseTemplate(yaml, FILE);
  } catch (error) {
    expect(error).toBeInstanceOf(TemplateError);
    return error as TemplateError;
  }
  throw new Error('expected a TemplateError');
}

/** `valid` with one line replaced (matched by its text). */
function edit(find: string, replace: string): string {
  expect(valid).toContain(find);
  return valid.replace(find, replace);
}

describe('parseTemplate: valid templates', () => {
  it('returns the template as written', () => {
    expect(parseTemplate(valid, FILE)).toEqual({
      namespace: 'shop',
      name: 'order',
      version: '1.2.3',
      description: 'Charge and ship',
      input_schema: { type: 'object', required: ['orderId'], properties: { orderId: { type: 'integer' } } },
      steps: [
        { name: 'validate', handler: 'shop.validate' },
        {
          name: 'charge_payment',
          handler: 'shop.charge',
          dependencies: ['validate'],
          retry: { max_attempts: 5, backoff_ms: 500, max_backoff_ms: 10000, retryable: true },
          timeout_ms: 15000,
          max_deliveries: 3,
          inputs: { currency: 'EUR', limits: { daily: 1000 } },
        },
        { name: 'route', handler: 'shop.route', type: 'decision', dependencies: ['charge_payment'] },
        { name: 'ship', handler: 'shop.ship', dependencies: ['route'] },
      ],
    });
  });

  it('treats null optional fields as absent, as the database does', () => {
    const template = parseTemplate(
      'namespace: a\nname: b\nversion: 1.0.0\ndescription:\ninput_schema: ~\nsteps:\n  - name: s\n    handler: h\n    type:\n    dependencies:\n    retry:\n    inputs: null\n    timeout_ms:\n',
      FILE,
    );
    expect(template).toEqual({ namespace: 'a', name: 'b', version: '1.0.0', steps: [{ name: 's', handler: 'h' }] });
  });

  it('supports merge keys for shared settings', () => {
    const template = parseTemplate(
      `namespace: a\nname: b\nversion: 1.0.0\nsteps:\n  - name: one\n    handler: h\n    retry: &retry { max_attempts: 7 }\n  - name: two\n    handler: h\n    retry: { <<: *retry, backoff_ms: 5 }\n`,
      FILE,
    );
    expect(template.steps.map((s) => s.retry)).toEqual([{ max_attempts: 7 }, { max_attempts: 7, backoff_ms: 5 }]);
  });

  it('reads `yes` and `on` as strings (YAML 1.2), not booleans', () => {
    const template = parseTemplate('namespace: a\nname: b\nversion: 1.0.0\nsteps:\n  - name: s\n    handler: h\n    inputs: { answer: yes }\n', FILE);
    expect(template.steps[0]?.inputs).toEqual({ answer: 'yes' });
  });

  it('checkTemplate checks templates written as objects (no line numbers)', () => {
    expect(() => checkTemplate({ namespace: 'a', name: 'b', version: '1.0.0', steps: [] }, 'code:order')).toThrow(
      'code:order: steps: must be a non-empty list of steps, got an empty list',
    );
  });
});

describe('parseTemplate: errors name file, line, step and field', () => {
  it('the example from the docs', () => {
    const error = failure(edit('max_attempts: 5', 'max_attempts: 0'));
    expect(error.message).toBe(
      'templates/order.yaml:18:21: steps[1] (charge_payment).retry.max_attempts: must be a whole number from 1 to 1000, got 0',
    );
    expect(error).toMatchObject({ file: FILE, step: 'charge_payment', field: 'retry.max_attempts', line: 18, column: 21 });
  });

  it.each([
    // [what, yaml, step, field, message fragment]
    ['missing namespace', edit('namespace: shop\n', ''), undefined, 'namespace', 'namespace: is required'],
    ['bad namespace', edit('namespace: shop', 'namespace: Shop-1'), undefined, 'namespace', '"Shop-1" is not valid: a namespace is 1 to 34'],
    ['namespace too long', edit('namespace: shop', `namespace: ${'a'.repeat(35)}`), undefined, 'namespace', 'is not valid'],
    ['name with a dash', edit('name: order', 'name: my-order'), undefined, 'name', 'a task name is 1 to 64'],
    ['version as a number', edit('version: 1.2.3', 'version: 1.2'), undefined, 'version', 'must be a string, got 1.2 (write it in quotes, e.g. version: "1.0.0")'],
    ['version not semver', edit('version: 1.2.3', 'version: v1'), undefined, 'version', '"v1" is not valid: a version is MAJOR.MINOR.PATCH'],
    ['description not text', edit('description: Charge and ship', 'description: [a]'), undefined, 'description', 'must be a string, got a list'],
    ['input_schema a list', edit('input_schema:\n  type: object', 'input_schema:\n  - type: object\nx_:\n  type: object'), undefined, 'x_', 'unknown key "x_"'],
    ['input_schema invalid', edit('orderId: { type: integer }', 'orderId: { type: integr }'), undefined, 'input_schema', 'is not a valid JSON Schema'],
    ['unknown top-level key', edit('description:', 'descripton:'), undefined, 'descripton', 'unknown key "descripton"; did you mean "description"?'],
    ['steps missing', valid.slice(0, valid.indexOf('steps:')), undefined, 'steps', 'must be a non-empty list of steps, got nothing'],
    ['steps a mapping', valid.slice(0, valid.indexOf('steps:')) + 'steps:\n  a: 1\n', undefined, 'steps', 'got a mapping'],
    ['a step that is a string', edit('  - name: validate\n    handler: shop.validate\n', '  - validate\n'), undefined, 'steps[0]', 'a step must be a mapping (name, handler, ...), got "validate"'],
    ['unknown step key', edit('    timeout_ms: 15000', '    timeout: 15000'), 'charge_payment', 'timeout', 'unknown key "timeout"; did you mean "timeout_ms"?'],
    ['misspelt dependencies', edit('    dependencies: [validate]', '    dependancies: [validate]'), 'charge_payment', 'dependancies', 'did you mean "dependencies"? The keys of a step are: name, handler'],
    ['unknown key without a likely meaning', edit('    dependencies: [validate]', '    after: [validate]'), 'charge_payment', 'after', 'unknown key "after". The keys of a step are'],
    ['unknown key of a step without a usable name', edit('  - name: validate\n', '  - name: Validate\n    label: x\n'), undefined, 'steps[0].label', 'unknown key "label"'],
    ['missing step name', edit('  - name: validate\n', '  - \n'), undefined, 'steps[0].name', 'is required'],
    ['bad step name', edit('name: validate', 'name: Validate'), undefined, 'steps[0].name', 'a step name is 1 to 64'],
    ['duplicate step name', edit('name: route', 'name: validate'), 'validate', 'name', 'duplicate step name "validate" (also steps[0])'],
    ['missing handler', edit('    handler: shop.route\n', ''), 'route', 'handler', 'is required'],
    ['bad handler', edit('handler: shop.route', 'handler: "shop route"'), 'route', 'handler', 'a handler name is up to 128'],
    ['bad type', edit('type: decision', 'type: choice'), 'route', 'type', '"choice" is not valid: the step types are standard, decision, batch'],
    ['dependencies not a list', edit('dependencies: [validate]', 'dependencies: validate'), 'charge_payment', 'dependencies', 'must be a list of step names, got "validate"'],
    ['dependency not a string', edit('dependencies: [validate]', 'dependencies: [1]'), 'charge_payment', 'dependencies[0]', 'must be a step name (a string), got 1'],
    ['unknown dependency', edit('dependencies: [validate]', 'dependencies: [validate, refund]'), 'charge_payment', 'dependencies[1]', 'step "charge_payment" depends on unknown step "refund"; the steps are: validate, charge_payment, route, ship'],
    ['self dependency', edit('dependencies: [route]', 'dependencies: [ship]'), 'ship', 'dependencies[0]', 'step "ship" depends on itself'],
    ['dependency twice', edit('dependencies: [validate]', 'dependencies: [validate, validate]'), 'charge_payment', 'dependencies[1]', 'lists dependency "validate" twice'],
    ['retry not a mapping', edit('    retry:\n      max_attempts: 5\n      backoff_ms: 500\n      max_backoff_ms: 10000\n      retryable: true\n', '    retry: 5\n'), 'charge_payment', 'retry', 'must be a mapping with max_attempts'],
    ['unknown retry key', edit('retryable: true', 'retry_on: [timeout]'), 'charge_payment', 'retry.retry_on', 'The keys of retry are: max_attempts'],
    ['max_attempts too big', edit('max_attempts: 5', 'max_attempts: 1001'), 'charge_payment', 'retry.max_attempts', 'from 1 to 1000, got 1001'],
    ['max_attempts fractional', edit('max_attempts: 5', 'max_attempts: 2.5'), 'charge_payment', 'retry.max_attempts', 'got 2.5'],
    ['max_attempts as text', edit('max_attempts: 5', 'max_attempts: "5"'), 'charge_payment', 'retry.max_attempts', 'got "5"'],
    ['negative backoff', edit('backoff_ms: 500', 'backoff_ms: -1'), 'charge_payment', 'retry.backoff_ms', 'from 0 to 86400000, got -1'],
    ['max_backoff below backoff', edit('max_backoff_ms: 10000', 'max_backoff_ms: 100'), 'charge_payment', 'retry.max_backoff_ms', 'must be at least backoff_ms (500), got 100'],
    ['max_backoff below the default backoff', edit('      backoff_ms: 500\n', '').replace('max_backoff_ms: 10000', 'max_backoff_ms: 999'), 'charge_payment', 'retry.max_backoff_ms', 'must be at least backoff_ms (1000, the default), got 999'],
    ['retryable not boolean', edit('retryable: true', 'retryable: "no"'), 'charge_payment', 'retry.retryable', 'must be true or false, got "no"'],
    ['retryable null', edit('retryable: true', 'retryable: null'), 'charge_payment', 'retry.retryable', 'must be true or false, got null'],
    ['timeout zero', edit('timeout_ms: 15000', 'timeout_ms: 0'), 'charge_payment', 'timeout_ms', 'from 1 to 86400000, got 0'],
    ['timeout over a day', edit('timeout_ms: 15000', 'timeout_ms: 86400001'), 'charge_payment', 'timeout_ms', 'got 86400001'],
    ['max_deliveries zero', edit('max_deliveries: 3', 'max_deliveries: 0'), 'charge_payment', 'max_deliveries', 'from 1 to 1000, got 0'],
    ['inputs a list', edit('    inputs:\n      currency: EUR\n      limits: { daily: 1000 }\n', '    inputs: [EUR]\n'), 'charge_payment', 'inputs', 'must be a mapping of static inputs, got a list'],
    ['inputs not JSON', edit('limits: { daily: 1000 }', 'limits: { daily: .inf }'), 'charge_payment', 'inputs', 'inputs.limits.daily: Infinity is not JSON'],
    ['batch step without a worker step', edit('type: decision', 'type: batch').replace('dependencies: [route]', 'dependencies: [charge_payment]'), 'route', 'type', 'a batch step needs exactly one successor, its batch worker step (a step whose only dependency is "route"); no step depends on "route"'],
    ['batch worker step with a second dependency', edit('type: decision', 'type: batch').replace('dependencies: [route]', 'dependencies: [validate, route]'), 'ship', 'dependencies[0]', 'step "ship" is the batch worker step of "route" and must depend on "route" alone'],
  ])('%s', (_what, yaml, step, field, fragment) => {
    const error = failure(yaml);
    expect(error.message).toContain(fragment);
    expect(error.message.startsWith(`${FILE}:`)).toBe(true);
    expect(error.step).toBe(step);
    expect(error.field).toBe(field);
    expect(error.line).toBeGreaterThan(0);
  });

  it('points at the line of the offending key or value', () => {
    expect(failure(edit('    timeout_ms: 15000', '    timeout: 15000')).line).toBe(22);
    expect(failure(edit('type: decision', 'type: choice'))).toMatchObject({ line: 29, column: 11 });
    expect(failure(edit('dependencies: [validate]', 'dependencies: [validate, refund]'))).toMatchObject({ line: 16, column: 30 });
    // A batch rule points into the step that breaks it: here, the second successor's dependency.
    const twoSuccessors = edit('type: decision', 'type: batch') + '  - name: audit\n    handler: shop.audit\n    dependencies: [route]\n';
    expect(failure(twoSuccessors)).toMatchObject({ step: 'audit', field: 'dependencies[0]', line: 36, column: 20 });
  });
});

describe('parseTemplate: cycles', () => {
  const steps = (deps: Record<string, string[]>) =>
    `namespace: a\nname: b\nversion: 1.0.0\nsteps:\n${Object.entries(deps)
      .map(([name, d]) => `  - name: ${name}\n    handler: h.${name}\n    dependencies: [${d.join(', ')}]\n`)
      .join('')}`;

  it('names the steps of a two-step cycle', () => {
    const error = failure(steps({ a: ['b'], b: ['a'] }));
    expect(error.problem).toBe('dependency cycle: a depends on b depends on a');
  });

  it('names only the steps on the cycle, not those leading to it', () => {
    const error = failure(steps({ start: [], x: ['start', 'z'], y: ['x'], z: ['y'], after: ['z'] }));
    expect(error.problem).toBe('dependency cycle: x depends on z depends on y depends on x');
    expect(error.step).toBe('x');
    expect(error.field).toBe('dependencies');
  });

  // Built as objects: the YAML parser alone takes seconds on 10,000 steps, and the graph check is what is tested.
  const chainOf = (length: number) =>
    Array.from({ length }, (_, i) => ({ name: `s${i}`, handler: 'h', ...(i === 0 ? {} : { dependencies: [`s${i - 1}`] }) }));

  it('handles a 10,000-step chain without overflowing the stack', () => {
    const template = checkTemplate({ namespace: 'a', name: 'b', version: '1.0.0', steps: chainOf(10_000) }, FILE);
    expect(template.steps).toHaveLength(10_000);
    const cyclic = chainOf(10_000);
    cyclic[0] = { name: 's0', handler: 'h', dependencies: ['s9999'] };
    expect(() => checkTemplate({ namespace: 'a', name: 'b', version: '1.0.0', steps: cyclic }, FILE)).toThrow(
      /steps\[0\] \(s0\)\.dependencies: dependency cycle: s0 depends on s9999 depends on s9998/,
    );
  });

  it('rejects more than 10,000 steps', () => {
    expect(() => checkTemplate({ namespace: 'a', name: 'b', version: '1.0.0', steps: chainOf(10_001) }, FILE)).toThrow(
      `${FILE}: steps: has 10001 steps; the limit is 10000`,
    );
  });
});

describe('parseTemplate: YAML problems', () => {
  it('reports a syntax error with file, line and column', () => {
    const error = failure('namespace: a\nname: b\nsteps:\n  - name: [unclosed\n    handler: h\n');
    expect(error.message).toMatch(/^templates\/order\.yaml:\d+:\d+: invalid YAML: /);
    expect(error.line).toBeGreaterThanOrEqual(4);
    expect(error.column).toBeGreaterThan(0);
  });

  it('reports a bad indentation at its line', () => {
    const error = failure('namespace: a\nsteps:\n  - name: a\n   handler: h\n');
    expect(error.message).toMatch(/^templates\/order\.yaml:4:\d+: invalid YAML: /);
    expect(error.line).toBe(4);
  });

  it('rejects duplicate keys, at the duplicate', () => {
    const error = failure('namespace: a\nname: b\nname: c\n');
    expect(error.message).toMatch(/^templates\/order\.yaml:3:1: invalid YAML: Map keys must be unique/);
  });

  it('rejects an empty file and a document that is not a mapping', () => {
    expect(failure('').message).toBe('templates/order.yaml: the template is empty; a template is a mapping with namespace, name, version and steps');
    expect(failure('# only a comment\n').problem).toMatch(/the template is empty/);
    expect(failure('- a\n- b\n').message).toBe('templates/order.yaml:1:1: a template must be a mapping with namespace, name, version and steps, got a list');
  });

  it('rejects several documents in one file', () => {
    expect(failure(`${valid}---\n${valid}`).message).toMatch(/invalid YAML: Source contains multiple documents/);
  });

  it('refuses alias bombs instead of expanding them', () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 8; i++) bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    expect(failure(bomb.join('\n')).message).toMatch(/invalid YAML: .*alias/i);
  });
});
