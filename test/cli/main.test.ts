import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EXIT_OK, EXIT_USAGE, main, packageVersion } from '../../src/cli/main.js';

function capture(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = capture();
  const err = capture();
  const code = await main(argv, { stdout: out.stream, stderr: err.stream, env: {} });
  return { code, stdout: out.text(), stderr: err.text() };
}

describe('ghostnet CLI', () => {
  it('prints help listing registered commands', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(EXIT_OK);
    expect(r.stdout).toContain('Usage:');
    expect(r.stdout).toMatch(/^\s+echo\s+/m);
    expect(r.stderr).toBe('');
  });

  it('prints the package version, as text and as JSON', async () => {
    const pkg = (await import('../../package.json', { with: { type: 'json' } })).default as {
      version: string;
    };
    expect(packageVersion()).toBe(pkg.version);
    const text = await run(['--version']);
    expect(text.stdout).toBe(`ghostnet ${pkg.version}\n`);
    const json = await run(['--version', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ name: 'ghostnet', version: pkg.version });
  });

  it('prints help for a command, both ways', async () => {
    const a = await run(['echo', '--help']);
    const b = await run(['help', 'echo']);
    expect(a.code).toBe(EXIT_OK);
    expect(a.stdout).toContain('Usage: ghostnet echo');
    expect(a.stdout).toContain('--port');
    expect(b.stdout).toBe(a.stdout);
  });

  it('rejects an unknown command with exit code 2 and a suggestion', async () => {
    const r = await run(['ecoh']);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.stderr).toContain("unknown command 'ecoh'");
    expect(r.stderr).toContain("Did you mean 'echo'?");
    expect(r.stdout).toBe('');
  });

  it('rejects an unknown option with exit code 2 and the usage', async () => {
    const r = await run(['echo', '--frobnicate']);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.stderr).toContain('--frobnicate');
    expect(r.stderr).toContain('Usage: ghostnet echo');
  });

  it('rejects an unknown global option and stray arguments after --version', async () => {
    expect((await run(['--frobnicate'])).code).toBe(EXIT_USAGE);
    expect((await run(['--version', 'extra'])).code).toBe(EXIT_USAGE);
    expect((await run(['help', 'nope'])).code).toBe(EXIT_USAGE);
  });

  it('runs as a real process through bin/ghostnet.js', async () => {
    const bin = fileURLToPath(new URL('../../bin/ghostnet.js', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [bin, '--version']);
    expect(stdout).toMatch(/^ghostnet \d+\.\d+\.\d+\n$/);
    const failed = await promisify(execFile)(process.execPath, [bin, 'nope']).then(
      () => ({ code: 0 }),
      (e: { code: number }) => e,
    );
    expect(failed.code).toBe(EXIT_USAGE);
  });
});
