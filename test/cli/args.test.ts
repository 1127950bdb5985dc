import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from '../../src/cli/args.js';
import { allRunSpecs } from '../../src/tune/run.js';
import { ConfigError } from '../../src/core/errors.js';

describe('command-line parsing', () => {
  const specs = allRunSpecs();
  const dir = mkdtempSync(path.join(tmpdir(), 'droptune-args-'));
  const file = (name: string, text: string) => {
    const full = path.join(dir, name);
    writeFileSync(full, text);
    return full;
  };

  it('types values, takes --flag=value, and reads a bare boolean flag as true', () => {
    const { values } = parseArgs(['--episodes', '4', '--lr=0.01', '--batch-norm', '--initial-rate', '0.1,0.2', '--agent', 'ucb'], specs);
    expect(values).to.deep.equal({ episodes: 4, lr: 0.01, batchNorm: true, initialRate: [0.1, 0.2], agent: 'ucb' });
  });

  it('reads --config (keys as options or flags) and lets the command line win', () => {
    const config = file('ok.json', JSON.stringify({ episodes: 9, 'train-size': 300, agent: 'constant', rate: 0.4 }));
    const { values } = parseArgs(['--config', config, '--episodes', '2'], specs);
    expect(values).to.include({ episodes: 2, trainSize: 300, agent: 'constant', rate: 0.4 });
  });

  it('names the option and what is allowed when a value or key is wrong', () => {
    expect(() => parseArgs(['--episodes', 'many'], specs)).to.throw(ConfigError, "--episodes must be a number, got 'many'");
    expect(() => parseArgs(['--epochs', '2.5'], specs)).to.throw(ConfigError, "--epochs must be an integer, got '2.5'");
    expect(() => parseArgs(['--action', 'sideways'], specs)).to.throw(ConfigError, "--action must be one of discrete, continuous, absolute, got 'sideways'");
    expect(() => parseArgs(['--seed'], specs)).to.throw(ConfigError, '--seed needs a value');
    expect(() => parseArgs(['--sed', '1'], specs)).to.throw(ConfigError, 'unknown option --sed');
    const badKey = file('bad-key.json', JSON.stringify({ epocs: 3 }));
    expect(() => parseArgs(['--config', badKey], specs)).to.throw(ConfigError, `--config ${badKey}: unknown option 'epocs'`);
    const badType = file('bad-type.json', JSON.stringify({ episodes: 'ten' }));
    expect(() => parseArgs(['--config', badType], specs)).to.throw(ConfigError, `--config ${badType}: 'episodes' must be a whole number, got "ten"`);
    const notJson = file('broken.json', '{ "episodes": ');
    expect(() => parseArgs(['--config', notJson], specs)).to.throw(ConfigError, `--config ${notJson}: not valid JSON`);
  });
});
