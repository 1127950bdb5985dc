import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { AGENTS } from '../../agents/index.js';
import { PACKAGE_ROOT, loadPolicyFile } from '../../agents/node-loaders.js';
import {
  DEFAULT_POLICY_FILE,
  controllerRates,
  globalFeatures,
  type Controller,
  type PolicyFile,
} from '../../agents/policy.js';
import { DropoutEnv } from '../../envs/dropout-env.js';
import { ConfigError } from '../../src/core/errors.js';
import { createRng } from '../../src/core/rng.js';
import type { AgentContext, StepInfo } from '../../src/core/types.js';
import { loadDataset, type Dataset } from '../../src/data/dataset.js';
import { agentContext } from '../../src/run/make-agent.js';
import { executeRun, resolveRun } from '../../src/run/run.js';
import {
  checkPolicyOut,
  checkTrainPolicyConfig,
  trainPolicy,
  writePolicyFile,
} from '../../src/experiment/train-policy.js';
import { TargetPathEnv } from '../helpers/toy-envs.js';
import { runEpisodes } from './harness.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

const controller = (weights: Partial<Controller['weights']>, smoothing = 1): Controller => ({
  kind: 'shared-logistic',
  rateCap: 0.8,
  weights: { bias: 0, depth: 0, input: 0, progress: 0, gap: 0, rise: 0, spatial: 0, width: 0, ...weights },
  smoothing,
});

const policyFile = (c: Controller, layers: number | null = null): PolicyFile => ({
  format: 'droptune-policy',
  version: 2,
  controller: c,
  layers,
});

describe('policy files', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'droptune-policy-'));
  const write = (name: string, content: unknown): string => {
    const file = path.join(tmp, name);
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
    return file;
  };

  it('loads the shipped policy: layer-agnostic, with the command, tasks, seed and cost that made it', () => {
    const policy = loadPolicyFile(DEFAULT_POLICY_FILE);
    expect(policy.layers).to.equal(null);
    const training = policy.training as {
      command: string;
      tasks: { dataset: string; model: string }[];
      seed: number;
      cost: { epochs: number };
    };
    expect(training.command).to.match(/^npm run train-policy/);
    expect(training.seed).to.be.a('number');
    expect(training.cost.epochs).to.be.greaterThan(0);
    // held out for evaluation: no Fashion-MNIST among the training tasks; CNNs and a wide MLP among them
    expect(policy.version).to.equal(2);
    expect(training.tasks.length).to.be.greaterThan(1);
    for (const t of training.tasks) expect(t.dataset).to.not.equal('fashion-mnist');
    expect(training.tasks.some((t) => t.model.startsWith('cnn:'))).to.equal(true);
    expect(training.tasks.some((t) => t.model === 'mlp:1024')).to.equal(true);
  });

  it('loads a version 1 file with the spatial and width weights at 0', () => {
    const v1 = {
      ...good,
      version: 1,
      controller: { ...good.controller, weights: { bias: 0.5, depth: 0, input: 0, progress: 0, gap: 0, rise: 0 } },
    };
    expect(loadPolicyFile(write('v1.json', v1)).controller.weights).to.include({ bias: 0.5, spatial: 0, width: 0 });
  });

  for (const [model, inputDropout] of [
    ['mlp:16', false],
    ['mlp:32,16', true],
    ['mlp:64,32,16', false],
    ['cnn:4/8', false],
    ['cnn:4,8/8', false],
  ] as const) {
    it(`applies the shipped policy to ${model}${inputDropout ? ' with input dropout' : ''}: rates in range, kinds and widths seen`, async () => {
      const data = loadDataset({ dataset: 'synthetic', trainSize: 64, valSize: 32, testSize: 32, seed: 1 });
      const env = new DropoutEnv(data, { model, inputDropout, maxEpochs: 2, actionMode: 'absolute' });
      const ctx = agentContext(env, createRng(0));
      expect(ctx.layers!.map((l) => l.kind)).to.deep.equal(env.layerInfo!.map((l) => l.kind));
      const agent = AGENTS['policy']!.create({}, ctx);
      const { info } = await env.reset({ seed: 2 });
      const action = (await agent.act([], info)) as number[];
      expect(action).to.have.lengthOf(env.numLayers);
      expect(env.actionSpace.contains(action)).to.equal(true);
      const policy = loadPolicyFile(DEFAULT_POLICY_FILE);
      const want = controllerRates(
        policy.controller,
        globalFeatures(info, 2, info.valLoss),
        info.rates,
        inputDropout,
        env.layerInfo,
      );
      action.forEach((r, l) => expect(r).to.be.closeTo(want[l]!, 1e-9)); // the env's rates are rounded to 1e-9
      env.dispose();
    });
  }

  it('finds the default policy from any working folder (it lives in the package)', () => {
    const cwd = process.cwd();
    try {
      process.chdir(tmp);
      expect(loadPolicyFile(DEFAULT_POLICY_FILE).controller).to.deep.equal(
        loadPolicyFile(path.join(PACKAGE_ROOT, DEFAULT_POLICY_FILE)).controller,
      );
    } finally {
      process.chdir(cwd);
    }
  });

  const good = policyFile(controller({ bias: 0.5 }));
  const bad: [string, unknown, RegExp][] = [
    ['missing.json', undefined, /: no such file$/],
    ['not-json.json', '{"format": ', /: not valid JSON$/],
    ['array.json', [1, 2], /: must hold a JSON object/],
    [
      'other-format.json',
      { ...good, format: 'onnx' },
      /: not a policy file \("format" must be "droptune-policy", got "onnx"\)$/,
    ],
    [
      'agent.json',
      { agent: 'reinforce', version: 1, policy: [[0]] },
      /: is a saved reinforce agent \(a --load-agent file\), not a policy file/,
    ],
    [
      'version.json',
      { ...good, version: 3 },
      /: policy version 3 is not supported \(this droptune reads versions 1 and 2\)$/,
    ],
    [
      'kind.json',
      { ...good, controller: { ...good.controller, kind: 'mlp' } },
      /: controller kind "mlp" is not supported/,
    ],
    [
      'weight.json',
      { ...good, controller: { ...good.controller, weights: { ...good.controller.weights, gap: 'big' } } },
      /: controller\.weights\.gap must be a finite number, got "big"$/,
    ],
    [
      'no-weight.json',
      { ...good, controller: { ...good.controller, weights: { bias: 1 } } },
      /: controller\.weights\.depth must be a finite number, got undefined$/,
    ],
    [
      'extra-weight.json',
      { ...good, controller: { ...good.controller, weights: { ...good.controller.weights, colour: 1 } } },
      /: controller\.weights\.colour is not an input of this controller/,
    ],
    [
      'v1-with-width.json',
      { ...good, version: 1, controller: { ...good.controller, weights: { ...good.controller.weights } } },
      /: controller\.weights\.spatial is not an input of this controller \(it has bias, depth, input, progress, gap, rise\)$/,
    ],
    [
      'smoothing.json',
      { ...good, controller: { ...good.controller, smoothing: 0 } },
      /: controller\.smoothing must be in \(0, 1\], got 0$/,
    ],
    ['layers.json', { ...good, layers: 1.5 }, /: layers must be null or a whole number >= 1, got 1\.5$/],
  ];
  for (const [name, content, message] of bad) {
    it(`refuses ${name} with one line naming --policy and the reason`, () => {
      const file = content === undefined ? path.join(tmp, name) : write(name, content);
      for (const attempt of [() => loadPolicyFile(file), () => AGENTS['policy']!.check({ policy: file })]) {
        let error: unknown;
        try {
          attempt();
        } catch (err) {
          error = err;
        }
        expect(error).to.be.instanceOf(ConfigError);
        const text = (error as Error).message;
        expect(text.startsWith(`--policy ${file}: `), text).to.equal(true);
        expect(text).to.match(message);
        expect(text).to.not.include('\n');
      }
    });
  }

  it('refuses a policy saved for another number of dropout layers when the agent is made, and takes it for its own', () => {
    const file = write('two-layers.json', policyFile(controller({}), 2));
    expect(AGENTS['policy']!.check({ policy: file })).to.deep.equal({ policy: file });
    const ctx = (numLayers: number) => new TargetPathEnv({ numLayers, actionMode: 'absolute' }).context(0);
    expect(() => AGENTS['policy']!.create({ policy: file }, ctx(3))).to.throw(
      ConfigError,
      `--policy ${file}: it was saved for 2 dropout layers and this model has 3`,
    );
    expect(() => AGENTS['policy']!.create({ policy: file }, ctx(2))).to.not.throw();
  });

  it('is refused by npm run agent with one line on stderr and exit code 2, before anything trains', () => {
    const file = write('cli-bad.json', { ...good, version: 7 });
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/agent.ts',
        '--agent',
        'policy',
        '--policy',
        file,
        '--dataset',
        'synthetic',
        '--out',
        path.join(tmp, 'run'),
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status).to.equal(2);
    expect(r.stderr.trim().split('\n')).to.deep.equal([
      `agent: --policy ${file}: policy version 7 is not supported (this droptune reads versions 1 and 2)`,
    ]);
  });
});

describe('policy controller', () => {
  it('gives each layer rateCap·σ(bias + depth·(relDepth − 1)), moved by the smoothing from the current rate', () => {
    const c = controller({ depth: 2 }, 0.5);
    const f = { progress: 0, gap: 0, rise: 0 };
    // three layers: relative depths 0, 0.5, 1
    const targets = [0.8 * sigmoid(-2), 0.8 * sigmoid(-1), 0.8 * sigmoid(0)];
    controllerRates(c, f, [0.3, 0.3, 0.3]).forEach((r, l) =>
      expect(r).to.be.closeTo(0.3 + 0.5 * (targets[l]! - 0.3), 1e-12),
    );
    // one layer counts as the last
    expect(controllerRates(c, f, [0.1])[0]).to.be.closeTo(0.1 + 0.5 * (0.4 - 0.1), 1e-12);
  });

  it('adds the spatial weight to conv blocks and width · log2(units / 256) / 2 to every hidden layer', () => {
    const c = controller({ spatial: -1, width: 0.5 }, 1);
    const f = { progress: 0, gap: 0, rise: 0 };
    const layers = [
      { kind: 'spatial' as const, units: 16 },
      { kind: 'dense' as const, units: 1024 },
    ];
    const rates = controllerRates(c, f, [0.3, 0.3], false, layers);
    // 16 channels are four halvings below 256, clipped to three: width input −1.5
    expect(rates[0]).to.be.closeTo(0.8 * sigmoid(-1 + 0.5 * -1.5), 1e-12);
    expect(rates[1]).to.be.closeTo(0.8 * sigmoid(0.5 * 1), 1e-12);
    // without layer information: both inputs 0
    expect(controllerRates(c, f, [0.3, 0.3])).to.deep.equal([0.4, 0.4]);
  });

  it('gives a dropout layer on the input bias + input, and counts the depth of the hidden layers without it', () => {
    const c = controller({ depth: 2, input: -3 }, 1);
    const f = { progress: 0, gap: 0, rise: 0 };
    const rates = controllerRates(c, f, [0.3, 0.3, 0.3], true);
    [0.8 * sigmoid(-3), 0.8 * sigmoid(-2), 0.8 * sigmoid(0)].forEach((want, l) =>
      expect(rates[l]).to.be.closeTo(want, 1e-12),
    );
    // input and one hidden layer: the hidden layer is the last
    expect(controllerRates(c, f, [0.3, 0.3], true)[1]).to.be.closeTo(0.4, 1e-12);
  });

  it('reads the generalization gap and the climb of the validation loss, scaled and clipped', () => {
    const info: StepInfo = {
      epoch: 5,
      trainLoss: 0.2,
      trainLossStd: 0,
      trainAcc: 0.9,
      valLoss: 1.1,
      valAcc: 0.7,
      rates: [0.3],
      diverged: false,
    };
    const f = globalFeatures(info, 20, 1.0);
    expect(f.progress).to.equal(0.25);
    expect(f.gap).to.be.closeTo(2, 1e-12);
    expect(f.rise).to.be.closeTo(Math.log(1.1) / 0.1, 1e-12);
    expect(globalFeatures({ ...info, trainAcc: 1, valAcc: 0.1, valLoss: 9 }, 20, 1).gap).to.equal(5);
    expect(globalFeatures({ ...info, valLoss: 9 }, 20, 1).rise).to.equal(5);
    expect(globalFeatures({ ...info, valLoss: Number.NaN }, 20, 1).rise).to.equal(5);
  });

  it('raises the rates once the validation loss climbs from its lowest point in the episode', async () => {
    // the toy env reports these validation losses after epochs 0…5 (1.2 at reset), and no gap
    const env = new TargetPathEnv({ actionMode: 'absolute', numLayers: 1, valLosses: [1.0, 0.8, 0.9, 1.2, 0.7, 0.75] });
    const dir = mkdtempSync(path.join(tmpdir(), 'droptune-policy-'));
    const file = path.join(dir, 'rise.json');
    writeFileSync(file, JSON.stringify(policyFile(controller({ bias: -1, rise: 1 }))));
    const agent = AGENTS['policy']!.create({ policy: file }, env.context(0));
    const { rates } = await runEpisodes(agent, env, 2);
    const rate = (rise: number) => 0.8 * sigmoid(-1 + rise);
    // before epoch t the agent sees the loss after epoch t − 1; the lowest so far is 1.2, 1.0, 0.8, 0.8, 0.8, 0.7
    const wanted = [
      rate(0),
      rate(0),
      rate(0),
      rate(Math.log(0.9 / 0.8) / 0.1),
      rate(Math.log(1.2 / 0.8) / 0.1),
      rate(0),
    ];
    expect(rates[0]!.length).to.equal(wanted.length);
    rates[0]!.forEach(([r], t) => expect(r, `epoch ${t}`).to.be.closeTo(wanted[t]!, 1e-9));
    // the second episode starts over from its own losses
    expect(rates[1]).to.deep.equal(rates[0]);
  });
});

describe('--agent policy on real training', () => {
  let data: Dataset;
  before(() => {
    data = loadDataset({ dataset: 'synthetic', trainSize: 128, valSize: 64, testSize: 64, seed: 1 });
  });

  const models = [
    ['mlp:16', false, 1],
    ['mlp:16,8', false, 2],
    ['mlp:16,8,8', false, 3],
    ['mlp:16,8', true, 3],
    ['cnn:4,8/16', false, 3],
  ] as const;
  for (const [model, inputDropout, layers] of models) {
    it(`applies the shipped policy to ${model}${inputDropout ? ' with input dropout' : ''} (${layers} dropout layer${layers === 1 ? '' : 's'}), every action in the action space`, async () => {
      const env = new DropoutEnv(data, {
        model,
        inputDropout,
        maxEpochs: 3,
        lr: 0.01,
        batchSize: 32,
        actionMode: 'absolute',
      });
      expect(env.numLayers).to.equal(layers);
      const ctx: AgentContext = {
        observationSpace: env.observationSpace,
        actionSpace: env.actionSpace,
        actionMode: 'absolute',
        numLayers: env.numLayers,
        minRate: 0,
        maxRate: 0.8,
        rateStep: 0.05,
        maxEpochs: 3,
        inputDropout,
        rng: createRng(0),
      };
      const agent = AGENTS['policy']!.create({}, ctx);
      // runEpisodes asserts every action lies in the env's action space
      const first = await runEpisodes(agent, env, 1, { seed: 4 });
      const again = await runEpisodes(AGENTS['policy']!.create({}, ctx), env, 1, { seed: 4 });
      env.dispose();
      expect(first.rates[0]!.length).to.equal(3);
      for (const row of first.rates[0]!) {
        expect(row.length).to.equal(layers);
        for (const r of row) expect(r).to.be.within(0, 0.8);
      }
      expect(again.actions).to.deep.equal(first.actions);
    });
  }
});

describe('--agent policy through a run', () => {
  it("is told which rate is the input layer's (--input-dropout) and keeps it apart", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'droptune-policy-run-'));
    const file = path.join(dir, 'input.json');
    writeFileSync(file, JSON.stringify(policyFile(controller({ input: -30 }))));
    const run = resolveRun({
      agent: 'policy',
      policy: file,
      episodes: 1,
      epochs: 2,
      seed: 1,
      dataset: 'synthetic',
      trainSize: 96,
      valSize: 64,
      testSize: 64,
      model: 'mlp:16,8',
      inputDropout: true,
      lr: 0.01,
      batchSize: 32,
      out: path.join(dir, 'run'),
    });
    const result = await executeRun(run, { backendInUse: tf.getBackend(), warn: () => {} });
    // the input layer goes toward 0.8·σ(−30) ≈ 0, the hidden ones toward 0.8·σ(0) = 0.4
    expect(result.records[0]!.schedule).to.deep.equal([
      [0, 0.4, 0.4],
      [0, 0.4, 0.4],
    ]);
  });
});

describe('train-policy', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'droptune-train-policy-'));
  const tiny = { tasks: 'tiny', generations: 2, population: 3, elites: 1, checkSeeds: 1 };
  const withoutWallTime = (p: PolicyFile) =>
    JSON.parse(JSON.stringify(p, (key, value: unknown) => (key === 'wallSeconds' ? undefined : value)));

  it('trains on tiny synthetic tasks end to end, the same for a seed, and writes a file --agent policy loads', async () => {
    const hooks = { command: 'npm run train-policy -- --tasks tiny', backendInUse: tf.getBackend() };
    const first = await trainPolicy(checkTrainPolicyConfig({ ...tiny, seed: 3 }), hooks);
    const second = await trainPolicy(checkTrainPolicyConfig({ ...tiny, seed: 3 }), hooks);
    const other = await trainPolicy(checkTrainPolicyConfig({ ...tiny, seed: 4 }), hooks);
    expect(withoutWallTime(second)).to.deep.equal(withoutWallTime(first));
    expect(other.controller).to.not.deep.equal(first.controller);

    const training = first.training as {
      command: string;
      seed: number;
      tasks: { name: string }[];
      cost: { epochs: number; searchEpochs: number; checkEpochs: number };
    };
    expect(training.command).to.equal(hooks.command);
    expect(training.seed).to.equal(3);
    expect(training.tasks.map((t) => t.name)).to.deep.equal(['tiny-a', 'tiny-b']);
    // 2 generations × (3 candidates + 3 baseline constants) × 2 seeds × (3 + 3) epochs, then the policy and 3 constant rates × (3 + 3)
    expect(training.cost).to.include({ searchEpochs: 144, checkEpochs: 24, epochs: 168 });

    const file = path.join(tmp, 'sub', 'policy.json');
    checkPolicyOut(file);
    writePolicyFile(file, first);
    expect(loadPolicyFile(file).controller).to.deep.equal(first.controller);
    const env = new TargetPathEnv({ numLayers: 4, actionMode: 'discrete' });
    await runEpisodes(AGENTS['policy']!.create({ policy: file }, env.context(0)), env, 1);
  });

  it('checks its options and --out before training, in one line naming the option', () => {
    expect(() => checkTrainPolicyConfig({ population: 4, elites: 4 })).to.throw(
      ConfigError,
      '--elites must be fewer than --population (4), got 4',
    );
    expect(() => checkTrainPolicyConfig({ generations: 0 })).to.throw(
      ConfigError,
      '--generations must be an integer in [1, 1000], got 0',
    );
    expect(() => checkTrainPolicyConfig({ tasks: path.join(tmp, 'none.json') })).to.throw(
      ConfigError,
      /^--tasks .*none\.json: not a task set \(default, v1, tiny\) nor a file$/,
    );
    const tasks = path.join(tmp, 'tasks.json');
    writeFileSync(
      tasks,
      JSON.stringify([
        {
          name: 'a',
          dataset: 'synthetic',
          trainSize: 64,
          valSize: 64,
          testSize: 32,
          model: 'mlp:8',
          epochs: 2,
          lr: 0.01,
        },
      ]),
    );
    expect(() => checkTrainPolicyConfig({ tasks })).to.throw(
      ConfigError,
      `--tasks ${tasks}: task 0 has no 'batchSize'`,
    );
    writeFileSync(
      tasks,
      JSON.stringify([
        {
          name: 'a',
          dataset: 'synthetic',
          trainSize: 64,
          valSize: 64,
          testSize: 32,
          model: 'rnn:8',
          epochs: 2,
          lr: 0.01,
          batchSize: 32,
        },
      ]),
    );
    expect(() => checkTrainPolicyConfig({ tasks })).to.throw(
      ConfigError,
      new RegExp(`^--tasks ${tasks}: task 0: --model must look like`),
    );
    expect(() => checkPolicyOut(tmp)).to.throw(ConfigError, `--out ${tmp} is a folder`);
    expect(() => checkPolicyOut(path.join(tasks, 'policy.json'))).to.throw(
      ConfigError,
      `lies under ${tasks}, which is a file`,
    );
  });
});
