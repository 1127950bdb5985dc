import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TINY = [
  '--dataset',
  'synthetic',
  '--train-size',
  '64',
  '--val-size',
  '32',
  '--test-size',
  '32',
  '--model',
  'mlp:8',
  '--episodes',
  '2',
  '--epochs',
  '2',
  '--agent',
  'random',
];

describe('a command whose stdout is closed', () => {
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'droptune-closed-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('keeps training, writes its run and exits 0 without dumping anything on stderr (`| head -1`)', async () => {
    const dir = path.join(tmp, 'run');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/agent.ts', ...TINY, '--out', dir], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // the reader goes away after its first chunk, as `head -1` does: every later write meets EPIPE
    child.stdout.once('data', () => child.stdout.destroy());
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr.length, stderr.slice(0, 500)).to.be.below(1024);
    expect(stderr).not.to.match(/wasm|EPIPE|\n\s+at /);
    expect(code, stderr).to.equal(0);
    expect(existsSync(path.join(dir, 'summary.json'))).to.equal(true);
  });
});
