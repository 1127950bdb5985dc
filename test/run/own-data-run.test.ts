import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/core/errors.js';
import { createRng } from '../../src/core/rng.js';
import { loadDataset } from '../../src/data/dataset.js';
import { planExperiment } from '../../src/experiment/experiment.js';
import { runJob, type Job } from '../../src/execution/job.js';
import { executeRun, resolveRun, runOptionsFromConfig } from '../../src/run/run.js';
import { DropoutEnv } from '../../envs/dropout-env.js';
import { checkEnv } from '../helpers/check_env.js';

const dir = mkdtempSync(path.join(tmpdir(), 'own-data-run-'));

/** Three Gaussian clusters in 4 features (one of them noise), labelled by name, with a header: 150 rows. */
function clustersCsv(name: string): string {
  const rng = createRng('clusters');
  const centres = { red: [0, 0, 0], green: [3, 0, 3], blue: [0, 3, -3] };
  const lines = ['f1,f2,f3,noise,colour'];
  for (let i = 0; i < 150; i++) {
    const [colour, centre] = Object.entries(centres)[i % 3]!;
    lines.push(
      [...centre.map((c) => (c + rng.normal()).toFixed(3)), (100 * rng.normal()).toFixed(1), colour].join(','),
    );
  }
  const file = path.join(dir, name);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

const TINY = { model: 'mlp:16', batchSize: 16, lr: 0.01 };

after(() => rmSync(dir, { recursive: true, force: true }));

describe('runs on your own data', () => {
  const csv = clustersCsv('clusters.csv');

  it('an env episode runs on a csv: dataset, deterministically, and learns the clusters', async () => {
    const data = loadDataset({
      dataset: `csv:${csv}`,
      trainSize: 90,
      valSize: 30,
      testSize: 30,
      seed: 1,
      csvLabel: 'colour',
    });
    const env = new DropoutEnv(data, { ...TINY, maxEpochs: 6, actionMode: 'absolute' });
    await checkEnv(env);
    await env.reset({ seed: 3 });
    let last;
    for (let t = 0; t < 6; t++) last = await env.step([0.1]);
    // Standardized clusters three deviations apart: chance is 1/3, a linear rule gets nearly all.
    expect(last!.info.valAcc).to.be.greaterThan(0.8);
    expect(last!.truncated).to.equal(true);
    env.dispose();
  });

  it('a cnn is refused on tabular samples, with what to use instead', () => {
    const data = loadDataset({ dataset: `csv:${csv}`, trainSize: 90, valSize: 30, testSize: 30 });
    expect(() => new DropoutEnv(data, { model: 'cnn:8/16' })).to.throw(
      ConfigError,
      'needs images of at least 2×2, got samples of 1×4×1 (use an mlp: model for tabular data)',
    );
  });

  it('a job on a csv: dataset writes a run folder that records the file and its options, and resumes from them', async () => {
    const out = path.join(dir, 'csv-run');
    const result = await runJob({
      options: {
        ...TINY,
        dataset: `csv:${path.relative(process.cwd(), csv)}`,
        csvLabel: 'colour',
        trainSize: 90,
        valSize: 30,
        testSize: 30,
        agent: 'constant',
        rate: 0.2,
        episodes: 1,
        epochs: 2,
      },
      seed: 0,
      out,
    });
    expect(result.records).to.have.length(1);
    const { options } = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8')) as {
      options: Record<string, unknown>;
    };
    expect(options).to.include({ dataset: `csv:${csv}`, csvLabel: 'colour', csvHeader: 'auto' });
    expect(options).to.not.have.property('dataDir');
    expect(resolveRun({ ...runOptionsFromConfig(options), out: path.join(dir, 'again') }).data).to.deep.equal({
      dataset: `csv:${csv}`,
      trainSize: 90,
      valSize: 30,
      testSize: 30,
      seed: 0,
      csvHeader: 'auto',
      csvLabel: 'colour',
    });
  });

  it("an mnist run's config.json has no fashion-mnist dataDir; a log that recorded one still resumes", async () => {
    const out = path.join(dir, 'mnist-run');
    const run = resolveRun({
      ...TINY,
      dataset: 'mnist',
      trainSize: 40,
      valSize: 20,
      testSize: 20,
      agent: 'constant',
      episodes: 1,
      epochs: 1,
      out,
    });
    expect(run.data).to.not.have.property('dataDir');
    await executeRun(run, { backendInUse: 'test' });
    const { options } = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8')) as {
      options: Record<string, unknown>;
    };
    expect(options['dataset']).to.equal('mnist');
    expect(options).to.not.have.any.keys('dataDir', 'csvLabel', 'csvHeader');
    expect(
      resolveRun({
        ...runOptionsFromConfig({ ...options, dataDir: '/usr/share/datasets/fashion-mnist' }),
        out: path.join(dir, 'mnist-again'),
      }).data,
    ).to.not.have.property('dataDir');
    expect(() => resolveRun({ dataset: 'mnist', dataDir: '/data', out: path.join(dir, 'x') })).to.throw(
      ConfigError,
      '--data-dir applies only to --dataset fashion-mnist, got --dataset mnist',
    );
    const fashion = resolveRun({ dataset: 'fashion-mnist', out: path.join(dir, 'y') });
    expect(fashion.options['dataDir']).to.equal('/usr/share/datasets/fashion-mnist');
  });

  it('an experiment takes a csv: dataset and its options, and a bad file fails when planned', () => {
    const plan = planExperiment({
      dataset: `csv:${csv}`,
      csvLabel: 'colour',
      model: 'mlp:8',
      trainSize: 90,
      valSize: 30,
      testSize: 30,
      seeds: 1,
      methods: ['grid'],
      out: path.join(dir, 'exp'),
    });
    expect(plan.tasks[0]!.job).to.have.nested.property('options.csvLabel', 'colour');
    expect(plan.tasks[0]!.job).to.have.nested.property('options.dataset', `csv:${csv}`);
    expect(plan.tasks[0]!.job).to.not.have.nested.property('options.dataDir');
    const ragged = path.join(dir, 'ragged.csv');
    writeFileSync(ragged, 'a,b,c\n1,2,x\n3,y\n');
    expect(() =>
      planExperiment({
        dataset: `csv:${ragged}`,
        model: 'mlp:8',
        trainSize: 1,
        valSize: 1,
        testSize: 1,
        seeds: 1,
        methods: ['grid'],
        out: path.join(dir, 'exp2'),
      }),
    ).to.throw(ConfigError, `${ragged} line 3: ragged row: expected 3 columns, got 2`);
    expect(
      (
        planExperiment({ preset: 'quick', seeds: 1, methods: ['grid'], out: path.join(dir, 'exp3') }).tasks[0]!
          .job as Job
      ).options,
    ).to.not.have.property('dataDir');
  });
});
