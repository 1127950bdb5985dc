import { expect } from 'chai';
import { epochPlot, renderSvg } from '../../src/analysis/plots.js';
import { INDEX_HTML } from '../../src/serve/page.js';
import type { RunData } from '../../src/store/read-run.js';

describe('integer axes and the dashboard page (issue 23)', () => {
  it('labels a single-epoch axis 1, not 1.000000', async () => {
    const step = {
      episode: 1,
      epoch: 1,
      rates: [0.3],
      action: [0.3],
      reward: 0,
      trainLoss: 1,
      trainLossStd: 0,
      trainAcc: 0.5,
      valLoss: 1,
      valAcc: 0.5,
      terminated: false,
      truncated: true,
      observation: [],
    };
    const run = {
      dir: 'runs/one',
      name: 'one',
      config: {
        options: { agent: 'constant' },
        seed: 0,
        backend: 'cpu',
        versions: {},
        observationNames: [],
        layerNames: ['d1'],
        startedAtMs: 0,
      },
      steps: [step],
      episodes: [
        {
          episode: 1,
          return: 0,
          epochs: 1,
          initialValAcc: 0.3,
          valAcc: 0.5,
          valLoss: 1,
          testAcc: 0.5,
          testLoss: 1,
          diverged: false,
          schedule: [[0.3]],
          episodeMs: 1,
        },
      ],
      summary: undefined,
    } as unknown as RunData;
    const svg = await renderSvg(epochPlot([run], 'valAcc').spec);
    expect(svg).to.not.match(/>1\.0+</);
    expect(svg).to.match(/>1</);
  });

  it('gives the page an icon, so the browser asks for no /favicon.ico', () => {
    expect(INDEX_HTML).to.match(/<link rel="icon" href="data:image\/svg\+xml,/);
  });
});
