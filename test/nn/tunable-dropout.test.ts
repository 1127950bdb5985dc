import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { ConfigError } from '../../src/core/errors.js';
import { TunableDropout, dropoutLayersOf } from '../../src/nn/tunable-dropout.js';

const train = (layer: TunableDropout, x: tf.Tensor) => layer.apply(x, { training: true }) as tf.Tensor;

/** Number of zeros in a tensor. */
const zeros = (t: tf.Tensor) => tf.tidy(() => tf.sum(tf.cast(tf.equal(t, 0), 'int32')).arraySync() as number);

describe('TunableDropout', () => {
  const N = 200 * 500;
  let ones: tf.Tensor;
  before(() => {
    ones = tf.ones([200, 500]);
  });
  after(() => ones.dispose());

  for (const rate of [0.1, 0.3, 0.7]) {
    it(`drops a fraction ≈ ${rate} of units and keeps the mean (4 binomial σ)`, () => {
      const layer = new TunableDropout({ rate, seed: 11 });
      const out = train(layer, ones);
      const sigma = Math.sqrt(N * rate * (1 - rate));
      expect(Math.abs(zeros(out) - N * rate)).to.be.below(4 * sigma);
      // Mean of kept/keep over N units: σ = sqrt(rate / ((1 - rate) N)).
      const mean = tf.tidy(() => tf.mean(out).arraySync() as number);
      expect(Math.abs(mean - 1)).to.be.below(4 * Math.sqrt(rate / ((1 - rate) * N)));
      // Kept units are scaled by exactly 1 / (1 - rate).
      const kept = tf.tidy(() => tf.max(out).arraySync() as number);
      expect(kept).to.be.closeTo(1 / (1 - rate), 1e-6);
      out.dispose();
    });
  }

  it('is the identity when not training', () => {
    const layer = new TunableDropout({ rate: 0.5, seed: 1 });
    const x = tf.randomNormal([8, 16], 0, 1, 'float32', 3);
    for (const out of [layer.apply(x, { training: false }) as tf.Tensor, layer.apply(x) as tf.Tensor]) {
      expect(out.arraySync()).to.deep.equal(x.arraySync());
      out.dispose();
    }
    x.dispose();
  });

  it('draws a new mask on every call, and the same sequence for the same seed', () => {
    const a = new TunableDropout({ rate: 0.5, seed: 42 });
    const b = new TunableDropout({ rate: 0.5, seed: 42 });
    const masksA = [train(a, ones), train(a, ones)];
    const masksB = [train(b, ones), train(b, ones)];
    expect(masksA[0]!.arraySync()).to.not.deep.equal(masksA[1]!.arraySync());
    expect(masksB[0]!.arraySync()).to.deep.equal(masksA[0]!.arraySync());
    expect(masksB[1]!.arraySync()).to.deep.equal(masksA[1]!.arraySync());
    const other = train(new TunableDropout({ rate: 0.5, seed: 43 }), ones);
    expect(other.arraySync()).to.not.deep.equal(masksA[0]!.arraySync());
    tf.dispose([...masksA, ...masksB, other]);
  });

  it('takes a new rate between calls without rebuilding', () => {
    const layer = new TunableDropout({ rate: 0.1, seed: 5 });
    tf.dispose(train(layer, ones));
    layer.rate = 0.6;
    const out = train(layer, ones);
    expect(Math.abs(zeros(out) - N * 0.6)).to.be.below(4 * Math.sqrt(N * 0.6 * 0.4));
    out.dispose();
    layer.rate = 0;
    const same = train(layer, ones);
    expect(zeros(same)).to.equal(0);
    same.dispose();
  });

  it('rejects rates outside [0, 1) with a ConfigError', () => {
    expect(() => new TunableDropout({ rate: 1 })).to.throw(ConfigError, 'rate must be in [0, 1), got 1');
    expect(() => new TunableDropout({ rate: -0.1 })).to.throw(ConfigError);
    const layer = new TunableDropout({ rate: 0.2 });
    expect(() => (layer.rate = 1.5)).to.throw(ConfigError, 'must be in [0, 1), got 1.5');
    expect(layer.rate).to.equal(0.2);
  });

  it('spatial mode drops whole channels of an NHWC map', () => {
    const layer = new TunableDropout({ rate: 0.5, spatial: true, seed: 9 });
    const x = tf.ones([6, 5, 5, 16]);
    const out = train(layer, x);
    const values = out.arraySync() as number[][][][];
    let droppedChannels = 0;
    for (const sample of values) {
      for (let c = 0; c < 16; c++) {
        const channel = sample.flatMap((row) => row.map((px) => px[c]!));
        expect(new Set(channel).size, 'one value per channel').to.equal(1);
        if (channel[0] === 0) droppedChannels += 1;
      }
    }
    // 96 channels, each dropped with p = 0.5: 4σ = 4·sqrt(96·0.25) ≈ 19.6.
    expect(Math.abs(droppedChannels - 48)).to.be.below(4 * Math.sqrt(96 * 0.25));
    tf.dispose([x, out]);
  });

  it('broadcasts a custom noiseShape (null entries take the input size)', () => {
    const layer = new TunableDropout({ rate: 0.5, noiseShape: [null, 1], seed: 4 });
    const out = train(layer, tf.ones([64, 10]));
    for (const row of out.arraySync() as number[][]) expect(new Set(row).size).to.equal(1);
    out.dispose();
  });

  it("takes a model's input shape as its first layer, and keeps it through a save and load", async () => {
    const model = tf.sequential({
      layers: [
        new TunableDropout({ rate: 0.2, seed: 5, name: 'drop_in', inputShape: [6] }),
        tf.layers.dense({ units: 2 }),
      ],
    });
    expect(model.inputs[0]!.shape).to.deep.equal([null, 6]);
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
    expect(loaded.inputs[0]!.shape).to.deep.equal([null, 6]);
    expect(dropoutLayersOf(loaded).map((l) => [l.name, l.rate, l.seed])).to.deep.equal([['drop_in', 0.2, 5]]);
    model.dispose();
    loaded.dispose();
  });

  it('keeps rate, mode and seed through a save and load', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [4], units: 3 }),
        new TunableDropout({ rate: 0.25, seed: 3, name: 'drop_a' }),
        tf.layers.reshape({ targetShape: [1, 1, 3] }),
        new TunableDropout({ rate: 0.1, spatial: true, seed: 8, name: 'drop_b' }),
      ],
    });
    dropoutLayersOf(model)[0]!.rate = 0.45;
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
    const layers = dropoutLayersOf(loaded);
    expect(layers.map((l) => [l.name, l.rate, l.spatial, l.seed])).to.deep.equal([
      ['drop_a', 0.45, false, 3],
      ['drop_b', 0.1, true, 8],
    ]);
    model.dispose();
    loaded.dispose();
  });
});
