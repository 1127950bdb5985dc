import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { foldDataset } from '../../src/data/folds.js';
import { loadDataset } from '../../src/data/dataset.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TINY = ['--dataset', 'synthetic', '--model', 'mlp:16,8'];

function experiment(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/experiment.ts', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
}

describe('npm run experiment', () => {
  it('runs every method on the same seeds, picks by validation accuracy and writes the report', () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'droptune-exp-')), 'exp');
    const r = experiment([...TINY, '--preset', 'quick', '--seeds', '2', '--methods', 'grid,late,ucb', '--out', out]);
    expect(r.status, r.stderr).to.equal(0);
    const result = JSON.parse(readFileSync(path.join(out, 'experiment.json'), 'utf8')) as {
      picks: { method: string; seed: number; valAcc: number; testAcc: number; epochs: number; from: string }[];
    };
    expect(result.picks.map((p) => `${p.method}/${p.seed}`)).to.deep.equal([
      'grid/0',
      'late/0',
      'ucb/0',
      'grid/1',
      'late/1',
      'ucb/1',
    ]);
    // quick: grid 0.1, 0.3, 0.5 at 5 epochs: one 5-epoch run per rate for grid and late, three episodes for ucb
    expect(result.picks.map((p) => p.epochs)).to.deep.equal([15, 15, 15, 15, 15, 15]);
    // The grid's pick is the grid run with the best final validation accuracy, and its test accuracy is that run's.
    const gridRuns = readdirSync(path.join(out, 'runs', 's0')).filter((d) => d.startsWith('grid-'));
    const finals = gridRuns.map((d) =>
      JSON.parse(readFileSync(path.join(out, 'runs', 's0', d, 'episodes.jsonl'), 'utf8').trim()),
    );
    const best = finals.reduce((b, e) => (e.valAcc > b.valAcc ? e : b));
    expect(result.picks[0]).to.include({ valAcc: best.valAcc, testAcc: best.testAcc });
    const md = readFileSync(path.join(out, 'experiment.md'), 'utf8');
    expect(md).to.match(/\| ucb \| 2 \| 15 \(1\.00×\) \|/);
    // the verdict, in the file and on the terminal
    expect(md).to.match(/^Verdict \(test accuracy, paired by seed against the grid's pick, 95% CI\):$/m);
    expect(r.stdout).to.match(/^- (beats the grid|worse than the grid|no detectable difference): .*\blate\b/m);
    // the bandits cannot learn in G episodes: their verdict is listed apart from the headline
    expect(r.stdout).to.match(
      /^- left out of the headline \(.*\): ucb (beats the grid|worse|no detectable difference)/m,
    );
    // the grid as a sweep: one row per rate, in the file and on the terminal
    expect(md).to.match(/^\| 0\.5 \| 2 \| /m);
    expect(r.stdout).to.match(/^The grid as a sweep/m);
    expect(existsSync(path.join(out, 'sweep.svg'))).to.equal(true);
    expect(existsSync(path.join(out, 'compare', 'report.html'))).to.equal(true);
  });

  it('scores the grid by K-fold cross-validation and retrains the chosen rate once for test', () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'droptune-exp-')), 'cv');
    const r = experiment([...TINY, '--seeds', '1', '--methods', 'grid', '--folds', '2', '--out', out]);
    expect(r.status, r.stderr).to.equal(0);
    const [pick] = JSON.parse(readFileSync(path.join(out, 'experiment.json'), 'utf8')).picks;
    // 3 rates × 2 folds × 5 epochs, then the chosen rate once more on the train split.
    expect(pick.epochs).to.equal(35);
    expect(pick.from).to.match(/2-fold/);
    const folds = readdirSync(path.join(out, 'runs', 's0')).filter((d) => /-fold\d$/.test(d));
    expect(folds).to.have.length(6);
  });

  it('with --carry starts every learner from the agent state the previous seed ended with', () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'droptune-exp-')), 'carry');
    const r = experiment([...TINY, '--seeds', '2', '--methods', 'grid,ucb', '--carry', '--out', out]);
    expect(r.status, r.stderr).to.equal(0);
    const config = (seed: number) =>
      JSON.parse(readFileSync(path.join(out, 'runs', `s${seed}`, 'ucb-ucb', 'config.json'), 'utf8')).options;
    expect(config(0).loadAgent).to.equal(null);
    expect(config(1).loadAgent).to.equal(path.join(out, 'runs', 's0', 'ucb-ucb', 'agent.json'));
    expect(config(1).loadAgent && existsSync(config(1).loadAgent)).to.equal(true);
  });

  it('adds methods to a finished experiment with --resume --methods, training only the new ones', () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'droptune-exp-')), 'add');
    expect(experiment([...TINY, '--seeds', '1', '--methods', 'grid', '--out', out]).status).to.equal(0);
    const gridRun = path.join(out, 'runs', 's0', 'grid-r10', 'steps.jsonl');
    const before = statSync(gridRun).mtimeMs;
    const r = experiment(['--resume', out, '--methods', 'grid,pbt']);
    expect(r.status, r.stderr).to.equal(0);
    expect(statSync(gridRun).mtimeMs, 'the grid is read back, not trained again').to.equal(before);
    const picks = (
      JSON.parse(readFileSync(path.join(out, 'experiment.json'), 'utf8')) as { picks: { method: string }[] }
    ).picks;
    expect(picks.map((p) => p.method)).to.deep.equal(['grid', 'pbt']);
    const dropped = experiment(['--resume', out, '--methods', 'grid']);
    expect(dropped.status).to.equal(2);
    expect(dropped.stderr).to.equal(
      `experiment: --methods with --resume may only add methods: pbt is in ${path.join(out, 'experiment-plan.json')}\n`,
    );
  });

  it('adds seeds to a finished experiment with --resume --seeds, training only the new seeds', () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'droptune-exp-')), 'more');
    expect(experiment([...TINY, '--seeds', '1', '--methods', 'grid', '--out', out]).status).to.equal(0);
    const gridRun = path.join(out, 'runs', 's0', 'grid-r10', 'steps.jsonl');
    const before = statSync(gridRun).mtimeMs;
    const r = experiment(['--resume', out, '--seeds', '2']);
    expect(r.status, r.stderr).to.equal(0);
    expect(statSync(gridRun).mtimeMs, 'seed 0 is read back, not trained again').to.equal(before);
    const json = JSON.parse(readFileSync(path.join(out, 'experiment.json'), 'utf8')) as {
      picks: { seed: number }[];
      config: { seeds: number };
    };
    expect(json.picks.map((p) => p.seed)).to.deep.equal([0, 1]);
    expect(json.config.seeds).to.equal(2);
    const fewer = experiment(['--resume', out, '--seeds', '1']);
    expect(fewer.status).to.equal(2);
    expect(fewer.stderr).to.equal(
      `experiment: --seeds with --resume may only add seeds: ${path.join(out, 'experiment-plan.json')} has 2, got 1\n`,
    );
  });

  it('rejects a method list without the grid', () => {
    const r = experiment(['--methods', 'ucb']);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.equal(
      "experiment: --methods must include grid: every method is compared with the grid's pick\n",
    );
  });
});

describe('foldDataset', () => {
  it('makes fold k the validation split of train ∪ validation, disjoint from its training split', () => {
    const data = loadDataset({ dataset: 'synthetic', trainSize: 30, valSize: 10, testSize: 5, seed: 1 });
    const rows = (x: Float32Array) =>
      Array.from({ length: x.length / data.features }, (_, i) =>
        x.subarray(i * data.features, (i + 1) * data.features).join(','),
      );
    const all = [...rows(data.train.x), ...rows(data.val.x)];
    const seen: string[] = [];
    for (let k = 0; k < 4; k++) {
      const fold = foldDataset(data, 4, k);
      expect(fold.val.n).to.equal(10);
      expect(fold.train.n).to.equal(30);
      const val = rows(fold.val.x);
      expect(val.filter((r) => rows(fold.train.x).includes(r))).to.deep.equal([]);
      seen.push(...val);
      expect(fold.test).to.equal(data.test);
    }
    expect(seen.sort()).to.deep.equal([...all].sort());
  });
});
