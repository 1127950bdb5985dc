/**
 * `npm run dashboard -- [runs folder] [--port N] [--host H]`: serves a live page of every run and
 * experiment under the folder (default runs/) until Ctrl-C. Reads the runs, never writes them.
 */
import { existsSync, statSync } from 'node:fs';

import { ConfigError } from '../core/errors.js';
import type { OptionSpec } from '../core/options.js';
import { checkPort, hostWarning, startDashboard } from '../serve/server.js';
import { helpText, parseArgs } from './args.js';
import { runCli } from './run-cli.js';
import { howToRun } from './command-name.js';

const USAGE = `usage: ${howToRun('dashboard')} [runs folder] [--port N] [--host H]\n\nServes a live page of the runs and experiments under the folder (default: runs/), read-only.`;

const DASHBOARD_OPTIONS: OptionSpec[] = [
  { key: 'port', flag: '--port', type: 'int', default: 8080, help: 'port to listen on (0: any free port)' },
  {
    key: 'host',
    flag: '--host',
    type: 'string',
    default: '127.0.0.1',
    help: 'address to listen on; anything but loopback lets other machines read your runs',
  },
];

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, DASHBOARD_OPTIONS);
  if (args.help) {
    console.log(helpText(USAGE, [{ title: 'Options', specs: DASHBOARD_OPTIONS }]));
    return 0;
  }
  if (args.positional.length > 1)
    throw new ConfigError(`give one runs folder, got ${args.positional.length}: ${args.positional.join(' ')}`);
  const root = args.positional[0] ?? 'runs';
  if (!existsSync(root)) throw new ConfigError(`no such folder: ${root}`);
  if (!statSync(root).isDirectory()) throw new ConfigError(`not a folder: ${root}`);
  const port = checkPort(args.values['port'] ?? 8080);
  const host = String(args.values['host'] ?? '127.0.0.1');
  const warning = hostWarning(host);
  if (warning) console.error(warning);
  const dashboard = await startDashboard({ root, host, port });
  console.log(`dashboard of ${dashboard.catalog.root}: ${dashboard.url}  (read-only; Ctrl-C to stop)`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await dashboard.close();
  return 0;
}

runCli('dashboard', main);
