import { expect } from 'chai';
import { DropoutEnv } from '../../envs/dropout-env.js';
import { episodeScore } from '../../src/core/select.js';
import { loadDataset } from '../../src/data/dataset.js';
import type { StepInfo } from '../../src/core/types.js';

/** Test accuracy of one constant-rate run on the noisy synthetic task, under final and best-epoch. */
async function run(rate: number, seed: number): Promise<{ final: number; best: number }> {
  const data = loadDataset({
    dataset: 'synthetic',
    trainSize: 200,
    valSize: 500,
    testSize: 500,
    seed,
    labelNoise: 0.3,
  });
  const env = new DropoutEnv(data, {
    model: 'mlp:128,128',
    lr: 0.003,
    batchSize: 32,
    maxEpochs: 20,
    actionMode: 'absolute',
    initialRates: rate,
    testEachEpoch: true,
  });
  try {
    await env.reset({ seed });
    const infos: StepInfo[] = [];
    for (let done = false; !done;) {
      const r = await env.step([rate, rate]);
      infos.push(r.info);
      done = r.terminated || r.truncated;
    }
    return {
      final: episodeScore(infos, { select: 'final' }).testAcc,
      best: episodeScore(infos, { select: 'best-epoch' }).testAcc,
    };
  } finally {
    env.dispose();
  }
}

describe('the synthetic task with label noise (a fast dropout-sensitive proxy)', () => {
  it('separates rate 0 from rate 0.6 by several points at the final epoch', async () => {
    // Measured (seeds 0, 1): final-epoch gaps +14.4 and +8.2 points; under best-epoch only +0.2 and +0.4,
    // since early stopping also holds memorization off on this task. The synthetic doc's 10-seed figure
    // is +7.0 ± 2.6 (sd) points at final: a 2-seed mean under 3 points is > 2 standard errors below it.
    const gaps = { final: [] as number[] };
    for (const seed of [0, 1]) {
      const none = await run(0, seed);
      const some = await run(0.6, seed);
      gaps.final.push(some.final - none.final);
    }
    const meanFinal = (gaps.final[0]! + gaps.final[1]!) / 2;
    expect(meanFinal).to.be.above(0.03);
    for (const g of gaps.final) expect(g).to.be.above(0);
  });
});
