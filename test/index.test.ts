import { expect } from 'chai';
import * as droptune from '../src/index.js';
import * as internals from '../src/internals.js';

describe('the public API (src/index.ts)', () => {
  it('exports the layer, the env, the dataset loader, the model builder and the agents', async () => {
    expect(droptune.TunableDropout).to.be.a('function');
    expect(droptune.DropoutEnv).to.be.a('function');
    expect(droptune.loadDataset).to.be.a('function');
    expect(droptune.buildModel).to.be.a('function');
    expect(droptune.agentNames()).to.include.members([
      'constant',
      'schedule',
      'plateau',
      'random',
      'epsilon-greedy',
      'ucb',
      'thompson',
      'linucb',
      'reinforce',
    ]);
    const data = droptune.loadDataset({ dataset: 'synthetic', trainSize: 64, valSize: 32, testSize: 32, seed: 1 });
    const env = new droptune.DropoutEnv(data, { model: 'mlp:8', maxEpochs: 1 });
    const { observation } = await env.reset({ seed: 0 });
    expect(env.observationSpace.contains(observation)).to.equal(true);
    env.dispose();
  });

  it('keeps internals under droptune/internals, and the moved names as deprecated aliases of the same values', () => {
    expect(internals.runSegment).to.be.a('function');
    expect(internals.WORKER_FILE).to.match(/pool-thread\.(ts|js)$/);
    expect(internals.RUN_FILES.summary).to.equal('summary.json');
    expect(droptune.runSegment).to.equal(internals.runSegment);
    expect(droptune.parseQueueUrl).to.equal(internals.parseQueueUrl);
    expect(droptune.registerWasmConvGrad).to.equal(internals.registerWasmConvGrad);
    expect(Object.keys(droptune)).to.not.include('WORKER_FILE');
  });
});
