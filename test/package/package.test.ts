/**
 * The published package, as a user gets it: `npm pack`, installed into an empty project, used from
 * plain Node JavaScript (no tsx) and from TypeScript checked by that project's own tsc. The examples
 * the README shows (examples/) are what runs here.
 */
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { readRun } from '../../src/store/read-run.js';
import { launchChromium } from '../helpers/browser.js';
import { builtinImports, bundleForBrowser, pageOfBlock, runPage, servePages } from '../helpers/browser-pages.js';
import { readmeBlocks } from '../helpers/readme.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const own = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
  version: string;
  engines: { node: string };
  devDependencies: Record<string, string>;
};
const semver = createRequire(import.meta.url)('semver') as {
  minVersion(range: string): { version: string } | null;
  satisfies(v: string, range: string): boolean;
};

/** The child's environment without tsx: what a user's `node file.mjs` gets. */
function plainEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  return env;
}

function run(cwd: string, file: string, args: string[] = [], timeout = 120_000): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [file, ...args], { cwd, env: plainEnv(), encoding: 'utf8', timeout });
}

const failed = (r: SpawnSyncReturns<string>) => `exit ${r.status}\n${r.stdout}\n${r.stderr}`;

describe('the npm package', function () {
  // npm pack builds dist/ (tsc), then the install unpacks tfjs & co from npm's cache: a minute or two.
  this.timeout(600_000);
  let project: string;
  let tarball: string;
  const readme = readmeBlocks(readFileSync(path.join(REPO, 'README.md'), 'utf8')).filter((b) => !b.browser);
  const readmeFile = (i: number) =>
    `readme-${i + 1}-line-${readme[i]!.line}.${readme[i]!.lang === 'ts' ? 'ts' : 'mjs'}`;

  before(function () {
    project = mkdtempSync(path.join(tmpdir(), 'droptune-consumer-'));
    const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', project], {
      cwd: REPO,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    tarball = path.join(project, packed.trim().split('\n').pop()!);
    writeFileSync(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    // The user's project: droptune from the tarball and a TypeScript of its own. Offline where the
    // cache has it; tfjs-node (optional) would try to download libtensorflow.
    execFileSync(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--omit=optional',
        '--ignore-scripts',
        tarball,
        `typescript@${own.devDependencies['typescript']}`,
      ],
      {
        cwd: project,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: plainEnv(),
      },
    );
    for (const file of ['tune-a-run.mjs', 'agent-loop.ts', 'own-model.ts'])
      copyFileSync(path.join(REPO, 'examples', file), path.join(project, file));
    // The README's blocks as a user pastes them, and the type test of the sources as a user's file (its
    // expect-error lines must all be errors here too): compiled with the examples, by one tsc.
    readme.forEach((b, i) => writeFileSync(path.join(project, readmeFile(i)), b.code));
    const typeTest = readFileSync(path.join(REPO, 'test/api/typed-options.types.ts'), 'utf8');
    writeFileSync(path.join(project, 'typed-options.ts'), typeTest.replace("'../../src/index.js'", "'droptune'"));
  });

  after(() => rmSync(project, { recursive: true, force: true }));

  it('ships the compiled code, its types, the default policy and nothing of the tests', () => {
    const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
    for (const file of [
      'package/dist/src/index.js',
      'package/dist/src/index.d.ts',
      'package/dist/src/internals.js',
      'package/dist/src/internals.d.ts',
      'package/dist/src/browser.js',
      'package/dist/src/browser.d.ts',
      'package/dist/src/cli/droptune.js',
      'package/policies/default.json',
      'package/src/cli/torch-reference.py',
      'package/LICENSE',
    ]) {
      expect(files, file).to.include(file);
    }
    expect(files.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'))).to.deep.equal([]);
    expect(files.filter((f) => f.includes('/test/'))).to.deep.equal([]);
  });

  it('runs the JavaScript example with plain node and leaves a valid run folder', () => {
    const out = path.join(project, 'runs', 'js-example');
    const r = run(project, 'tune-a-run.mjs', [out]);
    expect(r.status, failed(r)).to.equal(0);
    expect(r.stdout).to.match(/read back: 3 episodes, 12 epochs logged/);
    const { value: read, warnings } = readRun(out);
    expect(warnings).to.deep.equal([]);
    expect(read.summary?.episodes).to.equal(3);
    expect(read.summary?.interrupted).to.equal(false);
    expect(read.steps).to.have.length(12);
    expect(read.config.options['agent']).to.equal('ucb');
  });

  it("type-checks the TypeScript examples, the README's blocks and the type test with the project's own tsc, then runs the env loop", () => {
    // strict, as users write it; skipLibCheck because tfjs-layers' own typings fail strict checks.
    writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'nodenext', target: 'es2022', strict: true, skipLibCheck: true, outDir: 'out' },
        files: [
          'agent-loop.ts',
          'own-model.ts',
          'typed-options.ts',
          ...readme.flatMap((b, i) => (b.lang === 'ts' ? [readmeFile(i)] : [])),
        ],
      }),
    );
    const tsc = run(project, path.join(project, 'node_modules', 'typescript', 'bin', 'tsc'), ['-p', '.']);
    expect(tsc.status, failed(tsc)).to.equal(0);
    const r = run(project, path.join('out', 'agent-loop.js'));
    expect(r.status, failed(r)).to.equal(0);
    expect(r.stdout.match(/^episode \d+ epoch \d+: rates [\d.]+\/[\d.]+, validation [\d.]+$/gm)).to.have.length(8);
  });

  it('runs the own-model example: the fit callback writes a run compare reads, the saved model trains as the env', () => {
    const dir = path.join(project, 'runs', 'own-model');
    const r = run(project, path.join('out', 'own-model.js'), [dir]);
    expect(r.status, failed(r)).to.equal(0);
    const fit = readRun(path.join(dir, 'fit')).value;
    expect(fit.config.options['agent']).to.equal('plateau');
    expect(fit.episodes).to.have.length(1);
    expect(fit.steps.map((s) => s.epoch)).to.deep.equal([1, 2, 3, 4, 5]);
    // the rates the log says each epoch trained at are the ones the example prints
    expect(r.stdout).to.include(`rates per epoch ${JSON.stringify(fit.episodes[0]!.schedule)}`);
    expect(r.stdout).to.match(
      /env: \S+, \S+ tuned, episode valAcc 0\.\d{3}, schedule \[\[0\.4,0\.4\],\[0\.25,0\.25\],\[0\.1,0\.1\]\]/,
    );
  });

  it('runs every TypeScript and JavaScript block of the README as pasted, in order (compiled above)', () => {
    expect(readme.length).to.be.at.least(6);
    const outputs = readme.map((b, i) => {
      const file = readmeFile(i);
      const r = run(project, b.lang === 'ts' ? path.join('out', file.replace(/\.ts$/, '.js')) : file);
      expect(r.status, `README block at line ${b.line}: ${failed(r)}`).to.equal(0);
      return r.stdout;
    });
    // tune(): verbose lines, the final model's file, which plain tfjs then loads as stock layers
    const all = outputs.join('\n');
    expect(all).to.match(/^episode 3 epoch 3\/3 - \d+ms - loss: /m);
    expect(all).to.include(path.join('runs', 'example-ucb', 'model', 'model.json'));
    expect(all).to.match(/^Dense → Dropout → Dense$/m);
    expect(existsSync(path.join(project, 'models', 'my-tuned', 'model.json'))).to.equal(true);
    expect(readFileSync(path.join(project, 'models', 'my-tuned', 'model.json'), 'utf8')).to.not.include(
      'TunableDropout',
    );
  });

  it('a type error in user code is caught by that tsc (the check above can fail)', () => {
    writeFileSync(path.join(project, 'wrong.ts'), "import { makeAgent } from 'droptune';\nmakeAgent(42);\n");
    writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'nodenext', target: 'es2022', strict: true, skipLibCheck: true, noEmit: true },
        files: ['wrong.ts'],
      }),
    );
    const tsc = run(project, path.join(project, 'node_modules', 'typescript', 'bin', 'tsc'), ['-p', '.']);
    expect(tsc.status).to.not.equal(0);
    expect(tsc.stdout).to.match(/wrong\.ts\(2,/);
  });

  it('npx droptune runs each command, and a wrong one gets one line and exit 2', () => {
    const bin = path.join(project, 'node_modules', '.bin', 'droptune');
    const help = spawnSync(bin, ['agent', '--help'], { cwd: project, env: plainEnv(), encoding: 'utf8' });
    expect(help.status, failed(help)).to.equal(0);
    expect(help.stdout).to.match(/--agent/);
    // the dashboard serves its browser libraries from the installed package
    const dash = spawnSync(bin, ['dashboard', '--help'], { cwd: project, env: plainEnv(), encoding: 'utf8' });
    expect(dash.status, failed(dash)).to.equal(0);
    const wrong = spawnSync(bin, ['agnet'], { cwd: project, env: plainEnv(), encoding: 'utf8' });
    expect(wrong.status).to.equal(2);
    expect(wrong.stderr.trim().split('\n')).to.have.length(1);
    expect(wrong.stderr).to.match(/unknown command 'agnet'/);
  });

  it('resolves the droptune/internals subpath with plain node', () => {
    writeFileSync(
      path.join(project, 'internals.mjs'),
      "import { RUN_FILES, runTasks } from 'droptune/internals';\nconsole.log(RUN_FILES.config, typeof runTasks);\n",
    );
    const r = run(project, 'internals.mjs');
    expect(r.status, failed(r)).to.equal(0);
    expect(r.stdout.trim()).to.equal('config.json function');
  });

  it('bundles droptune/browser for the browser with no node: import, types it, and runs the README browser block in Chromium', async () => {
    // As a web project would: esbuild (platform browser) resolving droptune/browser from node_modules.
    const entry = await bundleForBrowser({ code: "export * from 'droptune/browser';" }, { cwd: project });
    const inputs = Object.keys(entry.metafile.inputs);
    expect(inputs.some((f) => f.startsWith('node_modules/droptune/dist/src/integrations/'))).to.equal(true);
    expect(builtinImports(entry.metafile, (f) => f.startsWith('node_modules/droptune/'))).to.deep.equal([]);
    // Its types, for a page's TypeScript (lib dom): the browser's options, and no run folder among them.
    writeFileSync(
      path.join(project, 'browser-usage.ts'),
      `import { dropoutController, type DropoutControllerOptions } from 'droptune/browser';
const options: DropoutControllerOptions<'ucb'> = { agent: 'ucb', options: { ucbC: 1 }, onLog: (e) => console.log(e.file) };
const blob: Blob | null = dropoutController(options).toBlob();
// @ts-expect-error the browser writes no run folder
dropoutController({ out: 'runs/x' });
console.log(blob);
`,
    );
    writeFileSync(
      path.join(project, 'tsconfig.browser.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          target: 'es2022',
          lib: ['es2022', 'dom'],
          strict: true,
          skipLibCheck: true,
          noEmit: true,
        },
        files: ['browser-usage.ts'],
      }),
    );
    const tsc = run(project, path.join(project, 'node_modules', 'typescript', 'bin', 'tsc'), [
      '-p',
      'tsconfig.browser.json',
    ]);
    expect(tsc.status, failed(tsc)).to.equal(0);
    // The README's browser block, as pasted, bundled against the installed package.
    const blocks = readmeBlocks(readFileSync(path.join(REPO, 'README.md'), 'utf8')).filter((b) => b.browser);
    expect(blocks).to.have.length(1);
    const page = await bundleForBrowser({ code: pageOfBlock(blocks[0]!.code) }, { cwd: project });
    const wasm = path.join(project, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
    const server = await servePages(new Map([['readme', page.outputFiles[0]!.text]]), wasm);
    const profile = mkdtempSync(path.join(tmpdir(), 'droptune-chromium-'));
    const browser = await launchChromium(profile);
    try {
      const r = await runPage(browser, `${server.origin}/readme.html`);
      expect(r.errors, `README block at line ${blocks[0]!.line}`).to.deep.equal([]);
      expect(r.console).to.include('[[0.5],[0.375],[0.25],[0.125],[0]]');
    } finally {
      await browser.close();
      server.close();
      rmSync(profile, { recursive: true, force: true });
    }
  });

  it("registers droptune's wasm kernels on import, for a backend the user picks", () => {
    // The conv filter gradient is not in tfjs-backend-wasm 4.22: without droptune this throws.
    const script = (
      withDroptune: boolean,
    ) => `${withDroptune ? "import 'droptune';\n" : ''}import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
await tf.setBackend('wasm');
const x = tf.randomNormal([2, 8, 8, 3]);
const g = tf.grad((w) => tf.conv2d(x, w, 1, 'same').sum())(tf.randomNormal([3, 3, 3, 4]));
console.log(tf.getBackend(), g.shape.join('x'));
`;
    writeFileSync(path.join(project, 'with.mjs'), script(true));
    writeFileSync(path.join(project, 'without.mjs'), script(false));
    const withIt = run(project, 'with.mjs');
    expect(withIt.status, failed(withIt)).to.equal(0);
    expect(withIt.stdout.trim()).to.equal('wasm 3x3x3x4');
    const without = run(project, 'without.mjs');
    expect(without.status).to.not.equal(0);
    expect(without.stderr).to.match(/Kernel 'Conv2DBackpropFilter' not registered/);
  });

  it('every installed runtime dependency runs on the oldest Node its engines field admits', () => {
    const oldest = semver.minVersion(own.engines.node)!.version;
    const refusing: string[] = [];
    const visit = (dir: string) => {
      for (const name of existsSync(dir) ? readdirSync(dir) : []) {
        if (name.startsWith('.')) continue;
        if (name.startsWith('@')) {
          visit(path.join(dir, name));
          continue;
        }
        const file = path.join(dir, name, 'package.json');
        if (!existsSync(file)) continue;
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as {
          name: string;
          version: string;
          engines?: { node?: string };
        };
        if (pkg.engines?.node && !semver.satisfies(oldest, pkg.engines.node))
          refusing.push(`${pkg.name}@${pkg.version} needs node ${pkg.engines.node}`);
        visit(path.join(dir, name, 'node_modules'));
      }
    };
    visit(path.join(project, 'node_modules'));
    expect(
      refusing.filter((r) => !r.startsWith('typescript@')),
      `droptune declares node ${own.engines.node}`,
    ).to.deep.equal([]);
  });
});
