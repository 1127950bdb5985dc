/**
 * SIGINT (Ctrl-C) and SIGTERM for every command that trains: the first asks the work to stop after the
 * epoch in progress (`onStop`), which flushes and says how to resume; `exitCode()` is then 130 / 143,
 * as a shell reports a stop by that signal. A second signal quits at once: the logs and the last
 * checkpoint are on disk, only the epoch in progress is lost.
 */
export interface SignalStop {
  /** 130 after SIGINT, 143 after SIGTERM (130 when no signal came). */
  exitCode(): number;
  /** Whether a signal came. */
  stopped(): boolean;
  /** Stops listening (the command is done). */
  release(): void;
}

export function stopOnSignals(
  say: { finishing: string; lost: string; resumeHint: string },
  onStop: () => void,
): SignalStop {
  let stopping: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`\nquit: ${say.lost}; continue with: ${say.resumeHint}\n`);
      process.exit(signal === 'SIGTERM' ? 143 : 130);
    }
    stopping = signal;
    process.stderr.write(
      `\n${signal === 'SIGINT' ? 'interrupted' : 'terminated'}: ${say.finishing} (${signal === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again to quit at once)\n`,
    );
    onStop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    exitCode: () => (stopping === 'SIGTERM' ? 143 : 130),
    stopped: () => stopping !== undefined,
    release: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
