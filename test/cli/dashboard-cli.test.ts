import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { rawRequest } from '../serve/helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TINY = [
  '--dataset',
  'synthetic',
  '--train-size',
  '128',
  '--val-size',
  '64',
  '--test-size',
  '64',
  '--model',
  'mlp:16,8',
  '--lr',
  '0.01',
  '--batch-size',
  '32',
];

describe('npm run dashboard', () => {
  const dashboard = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/dashboard.ts', ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });

  it('names the mistake in one line, exit 2', () => {
    for (const [args, line] of [
      [['no/such/folder'], 'dashboard: no such folder: no/such/folder\n'],
      [['test/fixtures/runs', '--bind', 'x'], 'dashboard: unknown option --bind (see --help)\n'],
    ] as [string[], string][]) {
      const r = dashboard(...args);
      expect([r.status, r.stderr]).to.deep.equal([2, line]);
    }
  });

  it('warns when --host opens it beyond this machine', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/dashboard.ts', 'test/fixtures/runs', '--host', '0.0.0.0', '--port', '0'],
      { cwd: ROOT },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const deadline = Date.now() + 30_000;
    while (!/http:\/\/0\.0\.0\.0:\d+\//.test(stdout) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const port = Number(/:(\d+)\//.exec(stdout)?.[1]);
    const list = await rawRequest(port, '/api/list');
    child.kill('SIGINT');
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(stderr).to.match(/^warning: --host 0\.0\.0\.0 serves your runs .* with no login/);
    expect(JSON.parse(list.body).runs).to.have.length(8);
    expect(code).to.equal(0);
  });
});

describe('npm run agent -- --dashboard', () => {
  it('serves the run it trains, live, and prints the address', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'droptune-agent-dash-')), 'run');
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/agent.ts',
        ...TINY,
        '--agent',
        'constant',
        '--episodes',
        '2',
        '--epochs',
        '2',
        '--out',
        dir,
        '--dashboard',
      ],
      { cwd: ROOT },
    );
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    try {
      const deadline = Date.now() + 60_000;
      while (!stdout.includes('the dashboard stays at') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      const url = /dashboard: (http:\/\/127\.0\.0\.1:(\d+)\/)#\/run\/\. /.exec(stdout);
      expect(url, stdout).to.not.equal(null);
      const run = JSON.parse((await rawRequest(Number(url![2]), '/api/run?id=.')).body);
      expect(run.row).to.include({ agent: 'constant', status: 'finished', episodes: 2, epochs: 4 });
      child.kill('SIGINT');
      expect(await new Promise((resolve) => child.on('exit', resolve))).to.equal(0);
    } finally {
      child.kill('SIGKILL');
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
  });
});
