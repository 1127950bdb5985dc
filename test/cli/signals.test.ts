import { expect } from 'chai';
import { stopOnSignals } from '../../src/cli/signals.js';

describe('stopOnSignals (every training command)', () => {
  it('asks the work to stop on the first SIGTERM, says so in one line, and reports exit code 143', () => {
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => written.push(s) > 0) as typeof process.stderr.write;
    const listeners = process.listenerCount('SIGTERM');
    let stops = 0;
    const signals = stopOnSignals(
      { finishing: 'finishing the current epoch', lost: 'the epoch in progress is lost', resumeHint: 'resume it' },
      () => (stops += 1),
    );
    try {
      expect(signals.stopped()).to.equal(false);
      process.emit('SIGTERM', 'SIGTERM');
    } finally {
      signals.release();
      process.stderr.write = write;
    }
    expect(stops).to.equal(1);
    expect(signals.stopped()).to.equal(true);
    expect(signals.exitCode()).to.equal(143);
    expect(written).to.deep.equal(['\nterminated: finishing the current epoch (the signal again to quit at once)\n']);
    expect(process.listenerCount('SIGTERM'), 'released').to.equal(listeners);
  });
});
