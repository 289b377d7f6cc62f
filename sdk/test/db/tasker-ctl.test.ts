import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { tempDir } from '../support/temp-dir.ts';

afterEach(() => {
  vi.restoreAllMocks();
});

/** Runs the CLI in-process and captures what it prints. */
async function ctl(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void out.push(args.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void err.push(args.join(' ')));
  const code = await main(argv);
  vi.restoreAllMocks();
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('tasker-ctl', () => {
  it('prints help with exit status 0, everywhere', async () => {
    for (const argv of [['--help'], ['migrate', '--help'], ['db', '--help'], ['db', 'start', '--help'], ['db', 'stop', '-h'], ['db', 'status', '--help'], ['db', 'url', '--help']]) {
      const result = await ctl(...argv);
      expect(result.code, argv.join(' ')).toBe(0);
      expect(result.out).toMatch(/^Usage: tasker-ctl/);
    }
  });

  it('exits 2 on usage errors', async () => {
    expect((await ctl()).code).toBe(2);
    expect((await ctl('frobnicate')).code).toBe(2);
    expect((await ctl('db')).code).toBe(2);
    expect((await ctl('db', 'restart')).code).toBe(2);
    const unknownFlag = await ctl('migrate', '--force');
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.err).toContain("Unknown option '--force'");
    const badMode = await ctl('migrate', '--mode', 'sometimes');
    expect(badMode.code).toBe(2);
    expect(badMode.err).toContain('--mode="sometimes" is invalid: expected one of standard, migrate-only, no-migrate');
    expect((await ctl('migrate', '--timeout', 'soon')).code).toBe(2);
  });

  it('reports a stopped server, and refuses to print the URL of a server that is not running', async () => {
    const dir = await tempDir('tasker-ctl');
    try {
      const status = await ctl('db', 'status', '--dir', dir.path, '--json');
      expect(status.code).toBe(0);
      expect(JSON.parse(status.out)).toMatchObject({ state: 'stopped', initialized: false });
      const url = await ctl('db', 'url', '--dir', dir.path);
      expect(url.code).toBe(1);
      expect(url.err).toContain('not running; start it with `tasker-ctl db start`');
      const stop = await ctl('db', 'stop', '--dir', dir.path);
      expect(stop).toMatchObject({ code: 0, out: '[INFO] Embedded PostgreSQL is not running' });
    } finally {
      await dir.remove();
    }
  });
});
