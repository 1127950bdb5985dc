import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { helpText, parseArgs } from '../../src/cli/args.js';
import { nearestFlag } from '../../src/core/options.js';
import type { OptionSpec } from '../../src/core/options.js';
import { allRunSpecs } from '../../src/run/run.js';
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
    const { values } = parseArgs(
      ['--episodes', '4', '--lr=0.01', '--batch-norm', '--initial-rate', '0.1,0.2', '--agent', 'ucb'],
      specs,
    );
    expect(values).to.deep.equal({ episodes: 4, lr: 0.01, batchNorm: true, initialRate: [0.1, 0.2], agent: 'ucb' });
  });

  it('reads --config (keys as options or flags) and lets the command line win', () => {
    const config = file('ok.json', JSON.stringify({ episodes: 9, 'train-size': 300, agent: 'constant', rate: 0.4 }));
    const { values } = parseArgs(['--config', config, '--episodes', '2'], specs);
    expect(values).to.include({ episodes: 2, trainSize: 300, agent: 'constant', rate: 0.4 });
  });

  it('names the option and what is allowed when a value or key is wrong', () => {
    expect(() => parseArgs(['--episodes', 'many'], specs)).to.throw(
      ConfigError,
      "--episodes must be a number, got 'many'",
    );
    expect(() => parseArgs(['--epochs', '2.5'], specs)).to.throw(ConfigError, "--epochs must be an integer, got '2.5'");
    expect(() => parseArgs(['--action', 'sideways'], specs)).to.throw(
      ConfigError,
      "--action must be one of discrete, continuous, absolute, got 'sideways'",
    );
    expect(() => parseArgs(['--seed'], specs)).to.throw(ConfigError, '--seed needs a value');
    expect(() => parseArgs(['--sed', '1'], specs)).to.throw(ConfigError, 'unknown option --sed');
    const badKey = file('bad-key.json', JSON.stringify({ epocs: 3 }));
    expect(() => parseArgs(['--config', badKey], specs)).to.throw(
      ConfigError,
      `--config ${badKey}: unknown option 'epocs'`,
    );
    const badType = file('bad-type.json', JSON.stringify({ episodes: 'ten' }));
    expect(() => parseArgs(['--config', badType], specs)).to.throw(
      ConfigError,
      `--config ${badType}: 'episodes' must be a whole number, got "ten"`,
    );
    const notJson = file('broken.json', '{ "episodes": ');
    expect(() => parseArgs(['--config', notJson], specs)).to.throw(ConfigError, `--config ${notJson}: not valid JSON`);
  });

  it('suggests the nearest option for a mistyped one', () => {
    expect(() => parseArgs(['--epoch', '3'], specs)).to.throw(
      ConfigError,
      'unknown option --epoch: did you mean --epochs? (see --help)',
    );
    expect(() => parseArgs(['--trian-size', '3'], specs)).to.throw(
      ConfigError,
      'unknown option --trian-size: did you mean --train-size? (see --help)',
    );
    expect(() => parseArgs(['--no-batchnorm'], specs)).to.throw(ConfigError, 'did you mean --no-batch-norm?');
    // nothing near: no guess
    expect(() => parseArgs(['--xyzzy-plugh', '1'], specs)).to.throw(
      ConfigError,
      /^unknown option --xyzzy-plugh \(see --help\)$/,
    );
    expect(nearestFlag('--val', ['--val-size', '--train-size'])).to.equal('--val-size');
    const typo = file('typo.json', JSON.stringify({ episdes: 3 }));
    expect(() => parseArgs(['--config', typo], specs)).to.throw(
      ConfigError,
      `--config ${typo}: unknown option 'episdes': did you mean 'episodes'?`,
    );
  });

  it('negates every boolean option with --no-<flag>, the last one given winning', () => {
    const booleans = specs.filter((s) => s.type === 'boolean');
    expect(booleans.map((s) => s.flag)).to.include.members(['--batch-norm', '--per-epoch']);
    for (const s of booleans)
      expect(parseArgs([`--no-${s.flag.slice(2)}`], specs).values[s.key], s.flag).to.equal(false);
    expect(parseArgs(['--per-epoch', '--no-per-epoch'], specs).values['perEpoch']).to.equal(false);
    expect(parseArgs(['--no-per-epoch', '--per-epoch'], specs).values['perEpoch']).to.equal(true);
    expect(parseArgs(['--per-epoch', 'false'], specs).values['perEpoch']).to.equal(false);
    expect(() => parseArgs(['--no-per-epoch=true'], specs)).to.throw(
      ConfigError,
      '--no-per-epoch takes no value (it sets --per-epoch to false)',
    );
    // not a boolean: no negation
    expect(() => parseArgs(['--no-epochs'], specs)).to.throw(ConfigError, 'unknown option --no-epochs');
  });

  it('shows a boolean in --help as --flag / --no-flag with its default', () => {
    const bench: OptionSpec[] = [
      { key: 'cnn', flag: '--cnn', type: 'boolean', default: true, help: 'also time the CNN' },
    ];
    expect(parseArgs(['--no-cnn'], bench).values).to.deep.equal({ cnn: false });
    const help = helpText('usage', [
      {
        title: 'Options',
        specs: [...bench, { key: 'profile', flag: '--profile', type: 'boolean', default: false, help: 'profile' }],
      },
    ]);
    expect(help).to.match(/--cnn \/ --no-cnn +also time the CNN \(default: on\)/);
    expect(help).to.match(/--profile \/ --no-profile +profile \(default: off\)/);
  });

  it("bench's --help offers --no-cnn, and every command suggests a near option", () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const run = (command: string, ...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', `src/cli/${command}.ts`, ...args], {
        cwd: root,
        encoding: 'utf8',
        timeout: 60_000,
      });
    const help = run('bench', '--help');
    expect(help.status, help.stderr).to.equal(0);
    expect(help.stdout).to.match(/--cnn \/ --no-cnn +also time the CNN on Fashion-MNIST \(default: on\)/);
    const typo = run('experiment', '--epoch', '3');
    expect([typo.status, typo.stderr]).to.deep.equal([
      2,
      'experiment: unknown option --epoch: did you mean --epochs? (see --help)\n',
    ]);
  });
});
