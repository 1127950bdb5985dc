import { expect } from 'chai';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tune } from '../../src/api/tune.js';
import { readConfigFile } from '../../src/cli/args.js';
import { parseReplaySpec } from '../../src/run/replay.js';
import { ConfigError } from '../../src/core/errors.js';
import { allRunSpecs, resolveRun } from '../../src/run/run.js';
import { cli, oneLine, tempDir } from './helpers.js';

const rejection = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (err: unknown) => err,
  );

describe('messages for bad input', () => {
  const tmp = tempDir('messages');

  it('--replay RUN#EPISODE names a bad episode, not "not a run folder"', () => {
    const none = () => false;
    for (const spec of ['RUN#abc', 'RUN#-1', 'RUN#1.5', 'RUN#', 'RUN#0'])
      expect(() => parseReplaySpec(spec, none), spec).to.throw(
        ConfigError,
        `--replay ${spec}: the episode after # must be a whole number from 1, got '${spec.slice(4)}'`,
      );
    expect(parseReplaySpec('runs/a#3', none)).to.deep.equal({ dir: 'runs/a', episode: 3 });
    expect(parseReplaySpec('runs/a', none)).to.deep.equal({ dir: 'runs/a' });
    expect(parseReplaySpec('odd#name', (d) => d === 'odd#name')).to.deep.equal({ dir: 'odd#name' });
    const r = cli('agent', ['--replay', `${tmp}#abc`]);
    expect(r.status).to.equal(2);
    expect(oneLine(r.stderr)).to.deep.equal([
      `agent: --replay ${tmp}#abc: the episode after # must be a whole number from 1, got 'abc' (RUN#EPISODE, or RUN alone for its best)`,
    ]);
  });

  it('--config DIR says it is a folder; 1e400 and NaN are reported as what they are', () => {
    expect(() => readConfigFile(tmp, allRunSpecs())).to.throw(`--config ${tmp}: is a folder, not a JSON file`);
    const file = path.join(tmp, 'big.json');
    writeFileSync(file, '{"lr": 1e400}');
    expect(() => readConfigFile(file, allRunSpecs())).to.throw(
      `--config ${file}: 'lr' must be a finite number, got Infinity`,
    );
    expect(() => resolveRun({ dataset: 'synthetic', lr: NaN })).to.throw(ConfigError, /--lr .*got NaN$/);
    expect(() => resolveRun({ dataset: 'synthetic', l2: Infinity })).to.throw(ConfigError, /--l2 .*got Infinity$/);
  });

  it('tune(null) and out: 42 are ConfigErrors naming what is wrong', async () => {
    const nothing = await rejection(tune(null as never));
    expect(nothing).to.be.instanceOf(ConfigError);
    expect((nothing as Error).message).to.equal('tune() takes an object of options, got null');
    const out = await rejection(tune({ dataset: 'synthetic', out: 42 as never }));
    expect(out).to.be.instanceOf(ConfigError);
    // from code, in code's keys
    expect((out as Error).message).to.equal('out must be a non-empty string, got 42');
  });

  it('--resume of a folder whose config.json has no options says so in one line', () => {
    const dir = path.join(tmp, 'bare');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'config.json'), '{"logVersion":2}');
    const r = cli('agent', ['--resume', dir]);
    expect(r.status).to.equal(2);
    expect(oneLine(r.stderr)).to.deep.equal([
      `agent: --resume ${dir}: not a run folder (${dir}/config.json has no 'options' object)`,
    ]);
  });
});
