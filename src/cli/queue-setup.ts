/**
 * --queue and --queue-name for the coordinating commands (agent --agent pbt, experiment): the options
 * checked, and the queue executor opened with its progress lines and its one line when Redis is lost.
 */
import { ConfigError } from '../core/errors.js';
import { checkQueueName, parseQueueUrl, type QueueUrl } from '../execution/queue/protocol.js';
import { QueueExecutor, RedisUnreachable } from '../execution/queue/queue-executor.js';
import { queueProgressLine } from './progress.js';

/** The queue the options name, checked; undefined without --queue. */
export function queueOptions(
  queue: unknown,
  queueName: unknown,
): { url: QueueUrl; name: string | undefined } | undefined {
  const url = queue === undefined ? undefined : parseQueueUrl(queue);
  if (queueName !== undefined && url === undefined) throw new ConfigError('--queue-name needs --queue');
  return url === undefined ? undefined : { url, name: queueName === undefined ? undefined : checkQueueName(queueName) };
}

/**
 * Opens the queue executor; undefined (after one line on stderr) when Redis cannot be reached. When Redis
 * is lost later, `onLost` hears it after one line saying what is `kept` and how to resume.
 */
export async function openQueue(opts: {
  command: string;
  url: QueueUrl;
  name: string;
  kept: string;
  resumeHint: string;
  onLost: (message: string) => void;
}): Promise<QueueExecutor | undefined> {
  let lastLine = '';
  try {
    return await QueueExecutor.open({
      url: opts.url,
      queueName: opts.name,
      onProgress: (p) => {
        const line = queueProgressLine(p);
        if (line !== lastLine) console.log((lastLine = line));
      },
      onLost: (message) => {
        process.stderr.write(`${opts.command}: ${message}; ${opts.kept}: once Redis is back, ${opts.resumeHint}\n`);
        opts.onLost(message);
      },
    });
  } catch (err) {
    if (!(err instanceof RedisUnreachable)) throw err;
    process.stderr.write(`${opts.command}: ${err.message}\n`);
    return undefined;
  }
}
