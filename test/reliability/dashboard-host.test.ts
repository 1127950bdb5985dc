import { expect } from 'chai';
import { hostAllowed, isLoopback, startDashboard, type Dashboard } from '../../src/serve/server.js';
import { rawRequest, runsFolder } from '../serve/helpers.js';

describe('dashboard Host check (DNS rebinding)', () => {
  let dashboard: Dashboard;
  before(async () => {
    dashboard = await startDashboard({ root: runsFolder().root, port: 0, log: () => {} });
  });
  after(() => dashboard.close());

  it('answers 403 to every Host that is not loopback, 200 to loopback ones', async () => {
    const port = dashboard.port;
    for (const host of [
      '127.evil.com',
      '127.0.0.1.evil.com',
      '127.0.0.1.',
      '127.1',
      '127.0.0.256',
      'evil.com',
      'localhost.evil.com',
      '0x7f.0.0.1',
      '',
    ])
      expect((await rawRequest(port, '/api/list', { host: `${host}:${port}` })).status, host).to.equal(403);
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '[::1]'])
      expect((await rawRequest(port, '/api/list', { host: `${host}:${port}` })).status, host).to.equal(200);
  });

  it('accepts the --host it was given, and on a wildcard --host IP addresses but no names', () => {
    expect(isLoopback('127.evil.com')).to.equal(false);
    expect(isLoopback('127.255.0.9')).to.equal(true);
    expect(hostAllowed('box.lan:8080', 'box.lan')).to.equal(true);
    expect(hostAllowed('other.lan:8080', 'box.lan')).to.equal(false);
    expect(hostAllowed('192.168.1.5:8080', '0.0.0.0')).to.equal(true);
    expect(hostAllowed('rebind.evil.com:8080', '0.0.0.0')).to.equal(false);
  });
});
