import { expect } from 'chai';
import { loadDataset } from '../../src/data/dataset.js';
import { drawSynthetic, makeSynthetic, SYNTHETIC } from '../../src/data/synthetic.js';
import { DropoutEnv } from '../../envs/dropout-env.js';

describe('synthetic', () => {
  it('is seeded: the same seed gives the same samples and labels, another seed others', () => {
    const a = makeSynthetic(300, 2);
    const b = makeSynthetic(300, 2);
    expect(a.imageShape).to.deep.equal([SYNTHETIC.side, SYNTHETIC.side, 1]);
    expect(a.numClasses).to.equal(SYNTHETIC.classes);
    expect(a.x.length).to.equal(300 * SYNTHETIC.side * SYNTHETIC.side);
    expect(b.x).to.deep.equal(a.x);
    expect(b.y).to.deep.equal(a.y);
    expect(makeSynthetic(300, 3).x).to.not.deep.equal(a.x);
    const split = (seed: number) =>
      loadDataset({ dataset: 'synthetic', trainSize: 40, valSize: 10, testSize: 10, seed });
    expect(split(2).train.x).to.deep.equal(split(2).train.x);
    expect(split(3).train.x).to.not.deep.equal(split(2).train.x);
  });

  it('gives the configured fraction of labels another class, and classes in equal shares', () => {
    const n = 20_000;
    const { pool, cleanLabels } = drawSynthetic(n, 7);
    const { labelNoise, classes } = SYNTHETIC;
    expect(
      pool.y.every((label) => label >= 0 && label < classes),
      'every label is a class',
    ).to.equal(true);
    const wrong = pool.y.filter((label, i) => label !== cleanLabels[i]).length;
    const counts = Array<number>(classes).fill(0);
    cleanLabels.forEach((label) => (counts[label]! += 1));
    // each count is binomial: within 4 standard deviations of its mean
    expect(Math.abs(wrong - n * labelNoise)).to.be.below(4 * Math.sqrt(n * labelNoise * (1 - labelNoise)));
    const share = 1 / classes;
    counts.forEach((c) => expect(Math.abs(c - n * share)).to.be.below(4 * Math.sqrt(n * share * (1 - share))));
  });

  it('makes the dropout rate matter: rate 0.6 beats rate 0 on validation, which memorizes the wrong labels', async function () {
    this.timeout(60_000);
    // the settings the header of src/data/synthetic.ts measured, with a larger validation split
    const seeds = [0, 1, 2];
    const valSize = 1000;
    const finalEpoch = async (seed: number, rate: number) => {
      const data = loadDataset({ dataset: 'synthetic', trainSize: 200, valSize, testSize: 100, seed });
      const env = new DropoutEnv(data, {
        model: 'mlp:128,128',
        lr: 0.003,
        batchSize: 32,
        maxEpochs: 20,
        actionMode: 'absolute',
        initialRates: rate,
      });
      await env.reset({ seed });
      let info = (await env.step([rate, rate])).info;
      for (let done = false; !done;) {
        const r = await env.step([rate, rate]);
        info = r.info;
        done = r.truncated || r.terminated;
      }
      env.dispose();
      return info;
    };
    let gain = 0;
    for (const seed of seeds) {
      const none = await finalEpoch(seed, 0);
      const some = await finalEpoch(seed, 0.6);
      expect(none.trainAcc, `seed ${seed}: rate 0 fits most wrong labels`).to.be.above(1 - SYNTHETIC.labelNoise / 2);
      gain += (some.valAcc - none.valAcc) / seeds.length;
    }
    // With no effect, a difference of two accuracies near 0.7 on the same 1,000 samples has sd at most
    // sqrt(2 · 0.7 · 0.3 / 1000) ≈ 0.02, so its mean over 3 seeds ≈ 0.012: ask for 3 of those.
    const noise = Math.sqrt((2 * 0.7 * 0.3) / valSize / seeds.length);
    expect(gain).to.be.above(3 * noise);
  });
});
