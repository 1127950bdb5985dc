import { expect } from 'chai';
import { checkSelect, episodeScore } from '../../src/core/select.js';
import { ConfigError } from '../../src/core/errors.js';
import { bestEpisode } from '../../src/core/run-log.js';
import { episodeRecord } from '../../src/loop/loop.js';

// A fixture episode that overfits: validation peaks at epoch 3, and test with it.
const steps = [
  { epoch: 1, valAcc: 0.6, testAcc: 0.62 },
  { epoch: 2, valAcc: 0.7, testAcc: 0.71 },
  { epoch: 3, valAcc: 0.8, testAcc: 0.79 },
  { epoch: 4, valAcc: 0.75, testAcc: 0.74 },
  { epoch: 5, valAcc: 0.65, testAcc: 0.66 },
];

describe('episodeScore', () => {
  it('final: the last epoch', () => {
    expect(episodeScore(steps, { select: 'final' })).to.deep.equal({ score: 0.65, testAcc: 0.66, epoch: 5 });
  });

  it('smoothed: the mean validation accuracy of the last k epochs, the last weights', () => {
    const s = episodeScore(steps, { select: 'smoothed', selectWindow: 3 });
    expect(s.score).to.be.closeTo((0.8 + 0.75 + 0.65) / 3, 1e-12);
    expect(s.testAcc).to.equal(0.66);
  });

  it('best-epoch: the test accuracy of the restored epoch, not the last one', () => {
    expect(episodeScore(steps, { select: 'best-epoch' })).to.deep.equal({ score: 0.8, testAcc: 0.79, epoch: 3 });
  });

  it('best-epoch: ties go to the earliest epoch', () => {
    const tied = [...steps, { epoch: 6, valAcc: 0.8, testAcc: 0.5 }];
    expect(episodeScore(tied, { select: 'best-epoch' }).epoch).to.equal(3);
  });

  it('final falls back to the episode test accuracy when the steps did not record it', () => {
    const bare = steps.map(({ epoch, valAcc }) => ({ epoch, valAcc }));
    expect(episodeScore(bare, { select: 'final' }, 0.66).testAcc).to.equal(0.66);
    expect(Number.isNaN(episodeScore(bare, { select: 'best-epoch' }, 0.66).testAcc)).to.equal(true);
  });

  it('refuses an unknown protocol naming --select', () => {
    expect(() => checkSelect({ select: 'best' as never })).to.throw(ConfigError, /--select must be one of/);
    expect(() => checkSelect({ selectWindow: 0 })).to.throw(ConfigError, /--select-window/);
  });
});

describe('episode records under a protocol', () => {
  const info = (epoch: number, valAcc: number, testAcc: number) => ({
    reward: 0,
    info: {
      epoch,
      valAcc,
      testAcc,
      trainLoss: 1,
      trainLossStd: 0,
      trainAcc: 0.5,
      valLoss: 1,
      rates: [0.5],
      diverged: false,
    },
  });
  const transitions = steps.map((s) => info(s.epoch, s.valAcc, s.testAcc));
  const initial = { ...info(0, 0.1, 0.1).info };

  it('records the restored epoch under best-epoch, and the run picks episodes by that score', () => {
    const overfit = episodeRecord(1, initial, transitions, 0, 7, { select: 'best-epoch', selectWindow: 3 });
    expect(overfit.testAcc).to.equal(0.66); // the last epoch's
    expect(overfit.selected).to.deep.equal({ score: 0.8, testAcc: 0.79, epoch: 3, select: 'best-epoch' });
    expect(overfit.bestEpoch).to.deep.equal({ score: 0.8, testAcc: 0.79, epoch: 3 });
    // a steady episode ends higher (0.7 > 0.65) but peaks lower (0.7 < 0.8): final and best-epoch disagree
    const steady = episodeRecord(2, initial, [info(1, 0.6, 0.6), info(2, 0.7, 0.7)], 0, 8, {
      select: 'best-epoch',
      selectWindow: 3,
    });
    expect(bestEpisode([overfit, steady])!.episode).to.equal(1);
    const { selected: _a, ...finalOverfit } = overfit;
    const { selected: _b, ...finalSteady } = steady;
    expect(bestEpisode([finalOverfit, finalSteady])!.episode).to.equal(2);
  });

  it('adds nothing under final when test was measured only at the end', () => {
    const last = transitions.map((t, i) =>
      i < transitions.length - 1 ? { ...t, info: { ...t.info, testAcc: undefined } } : t,
    );
    const record = episodeRecord(1, initial, last, 0, 7, { select: 'final', selectWindow: 3 });
    expect(record).to.not.have.property('selected');
    expect(record).to.not.have.property('bestEpoch');
  });
});
