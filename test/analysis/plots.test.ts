import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

import { compareRuns } from '../../src/analysis/compare.js';
import { comparisonPlots, legendLabels, renderSvg } from '../../src/analysis/plots.js';
import { readRuns, type RunData } from '../../src/store/read-run.js';
import { prefixSvgIds, writeComparison } from '../../src/analysis/report.js';
import { FIXTURES, SWEEP, hashTree } from '../helpers/run-fixtures.js';

/** Checks that every tag closes in order (a small XML well-formedness check); returns the root tag. */
function checkWellFormed(svg: string): string {
  const stack: string[] = [];
  let root = '';
  for (const [tag, close, name, selfClose] of svg.matchAll(/<(\/?)([a-zA-Z][\w:-]*)[^>]*?(\/?)>/g)) {
    if (close) expect(stack.pop(), `closing ${tag}`).to.equal(name);
    else if (!selfClose) stack.push(name!);
    root ||= name!;
  }
  expect(stack, 'unclosed tags').to.deep.equal([]);
  return root;
}

/** Runs named by the line marks (vega writes each mark's fields into its aria-label). */
const lineRuns = (svg: string): Set<string> =>
  new Set(
    [...svg.matchAll(/<path aria-label="[^"]*\brun: ([^;"]+)[^"]*"[^>]*aria-roledescription="line mark"/g)].map(
      (m) => m[1]!,
    ),
  );
/** Distinct stroke colors of the line marks. */
const lineColors = (svg: string): Set<string> =>
  new Set(
    [...svg.matchAll(/<path [^>]*aria-roledescription="line mark"[^>]*stroke="(#[0-9a-f]+)"/g)].map((m) => m[1]!),
  );

describe('legend labels', () => {
  it('drops the leading parts every run name shares, so runs named by date stay apart', () => {
    expect(legendLabels(['2026-11-23-thompson-s1', '2026-11-23-thompson-s2', '2026-11-23-constant-s1'])).to.deep.equal([
      'thompson-s1',
      'thompson-s2',
      'constant-s1',
    ]);
    expect(legendLabels(['sweep/a-s1', 'other/a-s1'])).to.deep.equal(['sweep/a-s1', 'other/a-s1']);
    // a name that is all shared parts keeps its last one
    expect(legendLabels(['2026-11-23-ucb', '2026-11-23-ucb-2'])).to.deep.equal(['ucb', 'ucb-2']);
    expect(legendLabels(['only-one'])).to.deep.equal(['only-one']);
  });

  it('shows every run distinctly and uncut in a rendered legend', async () => {
    const runs = readRuns([SWEEP]).value;
    for (const run of runs) run.name = `2026-11-23-1109-${run.name}-with-a-long-tail`;
    const svg = await renderSvg(comparisonPlots(runs).find((p) => p.file === 'val-acc.svg')!.spec);
    const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);
    const labels = texts.filter((t) => t.endsWith('-with-a-long-tail'));
    expect(labels).to.deep.equal([
      'constant-s1-with-a-long-tail',
      'constant-s2-with-a-long-tail',
      'constant-s3-with-a-long-tail',
      'thompson-s1-with-a-long-tail',
      'thompson-s2-with-a-long-tail',
    ]);
    expect(
      texts.some((t) => t.includes('…')),
      'no label cut short',
    ).to.equal(false);
  });
});

describe('plots', () => {
  let runs: RunData[];
  let svgs: Map<string, string>;
  before(async () => {
    runs = readRuns([SWEEP]).value;
    svgs = new Map(
      await Promise.all(comparisonPlots(runs).map(async (p) => [p.file, await renderSvg(p.spec)] as const)),
    );
  });

  it('renders every plot as well-formed SVG', () => {
    expect([...svgs.keys()]).to.deep.equal(['schedules.svg', 'val-acc.svg', 'val-loss.svg', 'learning-curve.svg']);
    for (const [file, svg] of svgs) {
      expect(svg.startsWith('<svg'), file).to.equal(true);
      expect(svg.trimEnd().endsWith('</svg>'), file).to.equal(true);
      expect(checkWellFormed(svg), file).to.equal('svg');
    }
  });

  it('draws one series per run, each in its own color', () => {
    const names = runs.map((r) => r.name).sort();
    for (const [file, svg] of svgs) {
      expect([...lineRuns(svg)].sort(), file).to.deep.equal(names);
      expect(lineColors(svg).size, file).to.equal(runs.length);
    }
  });

  it("plots each run's best schedule, one dashed line per layer", () => {
    const svg = svgs.get('schedules.svg')!;
    // thompson-s1's best episode is 3: rates 0.1, 0.2, 0.3 on the first layer
    const layer1 = [
      ...svg.matchAll(
        /aria-label="epoch: (\d); dropout rate: ([\d.]+); run: thompson-s1; episode: (\d); layer: dropout_1;/g,
      ),
    ];
    expect(new Set(layer1.map((m) => `${m[1]}:${m[2]}@${m[3]}`))).to.deep.equal(
      new Set(['1:0.1@3', '2:0.2@3', '3:0.3@3']),
    );
    expect(svg).to.include('dropout_2');
    // the layer legend shows two visible dash patterns (a stroke color, not just a dasharray)
    const legendDashes = [
      ...svg.matchAll(/role-legend-symbol"[^>]*><path [^>]*stroke="#[0-9a-f]+"[^>]*stroke-dasharray="([^"]+)"/g),
    ];
    expect(new Set(legendDashes.map((m) => m[1])).size).to.equal(2);
  });

  it('gives each inlined figure its own ids', () => {
    const svg = '<svg><clipPath id="clip1"/><g clip-path="url(#clip1)"/><use href="#clip1"/></svg>';
    expect(prefixSvgIds(svg, 'f2-')).to.equal(
      '<svg><clipPath id="f2-clip1"/><g clip-path="url(#f2-clip1)"/><use href="#f2-clip1"/></svg>',
    );
  });
});

describe('writeComparison', () => {
  let out: string;
  let files: string[];
  let before_: string;
  before(async () => {
    before_ = hashTree(FIXTURES);
    out = mkdtempSync(join(tmpdir(), 'droptune-compare-'));
    const read = readRuns([SWEEP]);
    const comparison = compareRuns(read.value, { baseline: 'constant' });
    comparison.warnings.unshift(...read.warnings); // as the CLI does
    files = await writeComparison(out, comparison, read.value);
  });
  after(() => rmSync(out, { recursive: true, force: true }));

  it('writes the tables, every plot and the report', () => {
    expect(files.map((f) => basename(f))).to.deep.equal([
      'compare.json',
      'compare.md',
      'schedules.svg',
      'val-acc.svg',
      'val-loss.svg',
      'learning-curve.svg',
      'report.html',
    ]);
    const json = JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8'));
    expect(json.runs).to.have.length(5);
    expect(json.baseline.rows[0].seeds).to.deep.equal([1, 2]);
    expect(readFileSync(join(out, 'compare.md'), 'utf8')).to.include('| constant-s2 | constant rate=0.3 | 2 |');
  });

  it('makes report.html self-contained: every plot inline, the tables, nothing external', () => {
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    ['schedules.svg', 'val-acc.svg', 'val-loss.svg', 'learning-curve.svg'].forEach((file, i) => {
      expect(html).to.include(`<figure id="${file}">`);
      // the figure holds the plot's own markup, its ids prefixed
      const svg = readFileSync(join(out, file), 'utf8');
      expect(html).to.include(prefixSvgIds(svg, `fig${i + 1}-`));
    });
    expect(html.match(/<svg/g)).to.have.length(4);
    expect(html).to.include('<td class="l">constant rate=0.3</td>');
    expect(html).to.include('dropped a truncated last line');
    expect(html).not.to.match(/<script|<link|\ssrc="|href="(?!#)/);
  });

  it('leaves the run folders untouched', () => {
    expect(hashTree(FIXTURES)).to.equal(before_);
  });
});
