import { expect } from 'chai';
import type { RunConfig } from '../../src/core/run-log.js';
import { groupLabels } from '../../src/analysis/compare.js';

describe('groupLabels of a schedule taken from a run', () => {
  const config = (schedule: string): RunConfig => ({
    options: { agent: 'schedule', schedule, episodes: 1, epochs: 3 },
    seed: 0,
    backend: 'cpu',
    versions: {},
    observationNames: [],
    layerNames: ['d1'],
    startedAtMs: 0,
  });

  it('names the run and episode it replays, not "summary"', () => {
    expect(
      groupLabels([
        config('/home/me/runs/2026-12-03-ucb-s1/summary.json'),
        config('runs/2026-12-03-ucb-s1/episodes.jsonl#4'),
        config('schedules/curriculum.json'),
      ]),
    ).to.deep.equal(['schedule 2026-12-03-ucb-s1 best', 'schedule 2026-12-03-ucb-s1#4', 'schedule curriculum']);
  });
});
