/** `npm run agent -- --final`: the tuned model saved in the run folder; the schedule table for long layer names. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { scheduleTable } from '../../src/cli/progress.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('npm run agent --final', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'droptune-final-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('writes model/ in the run folder: stock Dropout, the best episode reproduced', () => {
    const out = path.join(tmp, 'run');
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/agent.ts',
        ...['--dataset', 'synthetic', '--train-size', '160', '--val-size', '32', '--test-size', '32'],
        ...['--model', 'mlp:8', '--batch-size', '16', '--agent', 'random', '--episodes', '2', '--epochs', '2'],
        ...['--out', out, '--final'],
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(
      /final model: episode [12] trained again \(validation 0\.\d{4}, test 0\.\d{4}, as logged\)/,
    );
    const file = path.join(out, 'model', 'model.json');
    expect(existsSync(file)).to.equal(true);
    const json = readFileSync(file, 'utf8');
    expect(json).to.include('"class_name":"Dropout"');
    expect(json).to.not.include('TunableDropout');
  });

  it('aligns the schedule table for long layer names', () => {
    const lines = scheduleTable(
      [
        [0.1, 0.2],
        [0.3, 0.4],
      ],
      ['dropout_input_features', 'd2'],
    ).split('\n');
    expect(lines.map((l) => l.length)).to.deep.equal([36, 36, 36]);
    expect(lines[1]).to.equal('  dropout_input_features   0.10 0.30');
  });
});
