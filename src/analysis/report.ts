/**
 * Writes a comparison to an output folder: compare.json, compare.md, one .svg per plot, and
 * report.html, a single self-contained page (inline SVG and CSS, no scripts) that opens offline.
 */
import { mkdirSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

import { ConfigError } from '../core/errors.js';
import {
  comparisonJson,
  comparisonTables,
  escapeHtml,
  renderHtmlTables,
  renderMarkdown,
  type Comparison,
} from './compare.js';
import { comparisonPlots, renderSvg } from './plots.js';
import type { RunData } from '../store/read-run.js';
import { writeRefused } from '../store/run-writer.js';

/**
 * Several SVGs inlined in one page share one id namespace: vega names its clip paths clip1, clip2, …
 * in every file, so give each figure's ids (and the references to them) its own prefix.
 */
export function prefixSvgIds(svg: string, prefix: string): string {
  return svg
    .replace(/\bid="([^"]+)"/g, (_m, id: string) => `id="${prefix}${id}"`)
    .replace(/url\(#([^)]+)\)/g, (_m, id: string) => `url(#${prefix}${id})`)
    .replace(/href="#([^"]+)"/g, (_m, id: string) => `href="#${prefix}${id}"`);
}

const STYLE = `
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font: 13px ui-monospace, Menlo, Consolas, monospace; }
th, td { padding: 0.2em 0.7em; border-bottom: 1px solid #ddd; white-space: nowrap; }
th { border-bottom: 2px solid #888; }
.r { text-align: right; } .l { text-align: left; }
.note { color: #666; margin: 0; }
.warnings { color: #8a5300; }
figure { margin: 1.5em 0; } figcaption { font-weight: 600; margin-bottom: 0.3em; }
`;

export function reportHtml(
  comparison: Comparison,
  figures: readonly { file: string; title: string; svg: string }[],
): string {
  const warnings = comparison.warnings.length
    ? `<h2>Warnings</h2>\n<ul class="warnings">\n${comparison.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('\n')}\n</ul>`
    : '';
  const body = figures.map(
    (f, i) =>
      `<figure id="${escapeHtml(f.file)}">\n<figcaption>${escapeHtml(f.title)} <small>(${escapeHtml(f.file)})</small></figcaption>\n` +
      `${prefixSvgIds(f.svg, `fig${i + 1}-`)}\n</figure>`,
  );
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<title>droptune: run comparison</title>',
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<h1>droptune: ${comparison.runs.length} runs in ${comparison.groups.length} groups</h1>`,
    warnings,
    renderHtmlTables(comparisonTables(comparison)),
    '<h2>Plots</h2>',
    ...body,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** Refuses an output folder inside a run folder: compare never writes into a run. */
function checkOutDir(outDir: string, runs: readonly RunData[]): void {
  const out = resolve(outDir);
  for (const run of runs) {
    const rel = relative(resolve(run.dir), out);
    if (rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && !/^[a-zA-Z]:/.test(rel))) {
      throw new ConfigError(`--out ${outDir} is inside the run folder ${run.dir}; compare never writes into a run`);
    }
  }
}

/**
 * Fails unless `outDir` is a folder or can be made one: the nearest part of it that exists must be a
 * folder we may write in. Cheap and touches nothing, so compare checks it before reading any run.
 */
export function checkOutPath(outDir: string): void {
  if (outDir === '') throw new ConfigError(`--out must be a folder path, got ''`);
  const code = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? String(err);
  let existing = resolve(outDir);
  let stats: Stats | undefined;
  for (;;) {
    try {
      stats = statSync(existing, { throwIfNoEntry: false });
    } catch (err) {
      // ENOTDIR: a parent is a file; walk up to it
      if (code(err) !== 'ENOTDIR') throw new ConfigError(`--out ${outDir}: cannot look at ${existing} (${code(err)})`);
    }
    if (stats !== undefined) break;
    existing = dirname(existing);
  }
  if (!stats.isDirectory()) {
    throw new ConfigError(
      existing === resolve(outDir)
        ? `--out ${outDir} exists and is not a folder: choose a folder`
        : `--out ${outDir} lies under ${existing}, which is a file: choose a folder path`,
    );
  }
  const refused = writeRefused(existing);
  if (refused)
    throw new ConfigError(
      `--out ${outDir}: ${existing} is not writable (${refused}): choose a folder you can write to`,
    );
}

/** Writes every output file; returns their paths in the order written. */
export async function writeComparison(
  outDir: string,
  comparison: Comparison,
  runs: readonly RunData[],
): Promise<string[]> {
  checkOutPath(outDir);
  checkOutDir(outDir, runs);
  const compared = new Set(comparison.runs.map((r) => r.dir));
  const plotted = runs.filter((r) => compared.has(r.dir));
  const figures = await Promise.all(
    comparisonPlots(plotted).map(async (p) => ({ file: p.file, title: p.title, svg: await renderSvg(p.spec) })),
  );
  mkdirSync(outDir, { recursive: true });
  const tables = comparisonTables(comparison);
  const files: [string, string][] = [
    ['compare.json', comparisonJson(comparison)],
    ['compare.md', `# droptune: run comparison\n\n${renderMarkdown(tables)}\n`],
    ...figures.map((f): [string, string] => [f.file, f.svg]),
    ['report.html', reportHtml(comparison, figures)],
  ];
  return files.map(([name, text]) => {
    const path = join(outDir, name);
    writeFileSync(path, text);
    return path;
  });
}
