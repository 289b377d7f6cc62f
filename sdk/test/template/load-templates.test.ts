import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DuplicateTemplateError, TemplateError, loadTemplateDir, loadTemplateFile } from '../../src/template/index.ts';
import { tempDir, type TempDir } from '../support/temp-dir.ts';

let dir: TempDir;

beforeEach(async () => {
  dir = await tempDir('tasker-templates');
});

afterEach(async () => {
  await dir.remove();
});

const template = (name: string, version = '1.0.0') =>
  `namespace: shop\nname: ${name}\nversion: ${version}\nsteps:\n  - name: only\n    handler: shop.${name}\n`;

async function write(relative: string, text: string): Promise<string> {
  const path = join(dir.path, relative);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, text);
  return path;
}

describe('loadTemplateFile', () => {
  it('reads and checks one file', async () => {
    const path = await write('order.yaml', template('order'));
    expect(await loadTemplateFile(path)).toMatchObject({ namespace: 'shop', name: 'order', version: '1.0.0' });
  });

  it('names a missing file', async () => {
    const path = join(dir.path, 'nope.yaml');
    await expect(loadTemplateFile(path)).rejects.toThrow(TemplateError);
    await expect(loadTemplateFile(path)).rejects.toThrow(`${path}: cannot read the file: it does not exist`);
  });

  it('names the file of an invalid template', async () => {
    const path = await write('bad.yaml', template('order').replace('handler: shop.order', 'handler: ""'));
    await expect(loadTemplateFile(path)).rejects.toThrow(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:6:14: steps\\[0\\] \\(only\\)\\.handler: "" is not valid`));
  });
});

describe('loadTemplateDir', () => {
  it('loads *.yaml and *.yml recursively, sorted by path, skipping other and hidden files', async () => {
    await write('b.yaml', template('b_task'));
    await write('a.yml', template('a_task'));
    await write('nested/deeper/c.YAML', template('c_task'));
    await write('README.md', '# not a template');
    await write('.hidden.yaml', 'not: [valid');
    await write('.git/config.yaml', 'not: [valid');
    const loaded = await loadTemplateDir(dir.path);
    expect(loaded.map((l) => [l.file.slice(dir.path.length + 1), l.template.name])).toEqual([
      ['a.yml', 'a_task'],
      ['b.yaml', 'b_task'],
      ['nested/deeper/c.YAML', 'c_task'],
    ]);
  });

  it('follows symbolic links to directories', async () => {
    const shared = await tempDir('tasker-shared');
    try {
      await writeFile(join(shared.path, 'shared.yaml'), template('shared'));
      await symlink(shared.path, join(dir.path, 'linked'));
      expect((await loadTemplateDir(dir.path)).map((l) => l.template.name)).toEqual(['shared']);
    } finally {
      await shared.remove();
    }
  });

  it('rejects the same namespace/name/version in two files, naming both', async () => {
    const first = await write('a.yaml', template('order'));
    const second = await write('sub/b.yaml', template('order'));
    const error = await loadTemplateDir(dir.path).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DuplicateTemplateError);
    expect((error as DuplicateTemplateError).message).toBe(`${second}: template shop/order@1.0.0 is also defined in ${first}`);
    expect(error).toMatchObject({ file: second, firstFile: first, template: 'shop/order@1.0.0' });
  });

  it('accepts two versions of one template', async () => {
    await write('v1.yaml', template('order', '1.0.0'));
    await write('v2.yaml', template('order', '2.0.0'));
    expect((await loadTemplateDir(dir.path)).map((l) => l.template.version)).toEqual(['1.0.0', '2.0.0']);
  });

  it('stops at the first invalid file, naming it', async () => {
    await write('a.yaml', template('a_task'));
    const bad = await write('b.yaml', 'namespace: shop\nname: b\nversion: 1.0.0\nsteps: [\n');
    await expect(loadTemplateDir(dir.path)).rejects.toThrow(`${bad}:5:1: invalid YAML`);
  });

  it('names a missing directory, and returns nothing for an empty one', async () => {
    const missing = join(dir.path, 'missing');
    await expect(loadTemplateDir(missing)).rejects.toThrow(`${missing}: cannot read the template directory: it does not exist`);
    expect(await loadTemplateDir(dir.path)).toEqual([]);
  });
});
