import { expect } from 'chai';
import { loadDataset, type Dataset } from '../../src/data/dataset.js';
import { DropoutEnv, type DropoutEnvConfig, type EnvSnapshot } from '../../envs/dropout-env.js';
import { withFreshStreams } from '../../src/schedulers/streams.js';

const SMALL: Partial<DropoutEnvConfig> = {
  model: 'mlp:32,16',
  batchSize: 32,
  lr: 0.01,
  maxEpochs: 4,
  actionMode: 'absolute',
};

describe('withFreshStreams (a copied trial is a new trial, not a clone)', () => {
  let data: Dataset;
  let snapshot: EnvSnapshot;
  before(async () => {
    data = loadDataset({ dataset: 'synthetic', trainSize: 256, valSize: 128, testSize: 128, seed: 1 });
    const env = new DropoutEnv(data, SMALL);
    await env.reset({ seed: 5 });
    await env.step([0.3, 0.3]);
    snapshot = env.snapshot();
    env.dispose();
  });

  /** The training loss of the epoch after restoring `from`, at `rates`. */
  async function nextLoss(from: EnvSnapshot, rates: number[]): Promise<number> {
    const env = new DropoutEnv(data, SMALL);
    await env.reset({ seed: 5 });
    env.restore(from);
    const { info } = await env.step(rates);
    env.dispose();
    return info.trainLoss;
  }

  it('replays the source exactly when restored as is (the clone it replaces)', async () => {
    expect(await nextLoss(snapshot, [0.3, 0.3])).to.equal(await nextLoss(snapshot, [0.3, 0.3]));
  });

  it('gives the copy other batches: no dropout, only the shuffle stream differs', async () => {
    const fresh = withFreshStreams(snapshot, 'pbt:1:2:3');
    const shuffleOnly = { ...snapshot, rng: fresh.rng };
    expect(fresh.rng).to.not.deep.equal(snapshot.rng);
    expect(await nextLoss(shuffleOnly, [0, 0])).to.not.equal(await nextLoss(snapshot, [0, 0]));
  });

  it('gives the copy other masks: same batches, only the mask streams differ', async () => {
    const fresh = withFreshStreams(snapshot, 'pbt:1:2:3');
    const masksOnly = { ...snapshot, dropouts: fresh.dropouts };
    fresh.dropouts.forEach((d, i) => {
      expect(d.stream).to.not.deep.equal(snapshot.dropouts[i]!.stream);
      expect(d.rate).to.equal(snapshot.dropouts[i]!.rate);
    });
    expect(await nextLoss(masksOnly, [0.5, 0.5])).to.not.equal(await nextLoss(snapshot, [0.5, 0.5]));
  });

  it('derives the streams from the key alone: the same (seed, generation, member) gives the same copy', () => {
    expect(withFreshStreams(snapshot, 'pbt:1:2:3')).to.deep.equal(withFreshStreams(snapshot, 'pbt:1:2:3'));
    expect(withFreshStreams(snapshot, 'pbt:1:2:3').rng).to.not.deep.equal(withFreshStreams(snapshot, 'pbt:1:2:4').rng);
  });
});
