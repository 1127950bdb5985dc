/**
 * Soak (npm run soak, not CI): 300 event-stream reconnects to a live run's page, as a flaky network or
 * a reloading tab makes them, leak no file descriptor, no watch and no listener.
 */
import { expect } from 'chai';
import { readdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';

import { startDashboard } from '../../src/serve/server.js';
import { runsFolder } from '../serve/helpers.js';

const fds = () => readdirSync('/proc/self/fd').length;

/** Opens /api/events?run=live, waits for its first update, and drops the connection. */
const reconnect = (port: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/api/events?run=live', headers: { host: '127.0.0.1' } },
      (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (chunk.includes('event: update')) req.destroy();
        });
        res.on('close', () => resolve());
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? resolve() : reject(err)));
    req.end();
  });

describe('soak: event-stream reconnects', function () {
  this.timeout(300_000);

  it('300 reconnects leave the descriptors, watches and listeners they found', async () => {
    const folder = runsFolder();
    const dashboard = await startDashboard({ root: folder.root, port: 0, pollMs: 100 });
    try {
      await reconnect(dashboard.port);
      const before = fds();
      for (let i = 0; i < 300; i++) await reconnect(dashboard.port);
      const deadline = Date.now() + 5000;
      while ((dashboard.streams() > 0 || fds() > before) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      expect(dashboard.streams()).to.equal(0);
      expect(dashboard.hub.stats()).to.deep.equal({ watches: 0, listeners: 0 });
      expect(fds()).to.be.at.most(before);
    } finally {
      await dashboard.close();
      rmSync(folder.root, { recursive: true, force: true });
    }
  });
});
