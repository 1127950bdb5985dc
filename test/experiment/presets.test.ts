import { expect } from 'chai';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { folderStamp, freeFolder } from '../../src/store/run-folder.js';
import { PRESETS, PRESET_NAMES, defaultExperimentOut, describePresets } from '../../src/experiment/experiment.js';

describe('experiment presets in --help', () => {
  it('describes every preset from PRESETS: dataset, model, sizes, epochs, grid, seeds, extra options', () => {
    const text = describePresets();
    const blocks = text.split(/\n(?= {2}\S)/);
    expect(blocks).to.have.length(PRESET_NAMES.length);
    PRESET_NAMES.forEach((name, i) => {
      const p = PRESETS[name];
      const block = blocks[i]!;
      expect(block.startsWith(`  ${name}: ${p.about}`), name).to.equal(true);
      expect(block).to.include(`${p.dataset}, ${p.model}`);
      expect(block).to.include(`${p.trainSize} train / ${p.valSize} val / ${p.testSize} test`);
      expect(block).to.include(`${p.epochs} epochs per episode, grid ${p.grid.join(', ')}, ${p.seeds} seeds`);
    });
    expect(blocks[PRESET_NAMES.indexOf('mnist-wide')]).to.include('mlp:512,512 --input-dropout;');
  });
});

describe('default folder names', () => {
  const now = new Date(Date.UTC(2026, 10, 23, 11, 9, 42));

  it('stamps run folders with the date and experiments with the date and time, both dash-separated', () => {
    expect(folderStamp(now)).to.equal('2026-11-23');
    expect(folderStamp(now, true)).to.equal('2026-11-23-1109');
    expect(defaultExperimentOut('quick', now)).to.match(/^runs\/experiment-quick-2026-11-23-1109(-\d+)?$/);
  });

  it('adds -2, -3, … when the folder is taken, and reuses an empty one', () => {
    const tmp = mkdtempSync(path.join(tmpdir(), 'droptune-names-'));
    const base = path.join(tmp, 'experiment-quick-2026-11-23-1109');
    expect(freeFolder(base)).to.equal(base);
    mkdirSync(base);
    expect(freeFolder(base), 'empty: reused').to.equal(base);
    writeFileSync(path.join(base, 'plan.json'), '{}');
    expect(freeFolder(base)).to.equal(`${base}-2`);
  });
});
