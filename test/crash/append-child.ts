/**
 * The child of test/crash/channel-crash.test.ts: opens the channel and appends from several
 * concurrent producers until it is killed. Prints `{"ready":true}` once the channel is open, then
 * one line per acknowledged request (workload.ts), only after `append` resolved.
 *
 *   node bin/run-ts.js test/crash/append-child.ts FILE SEED RUN
 */
import { Channel } from '../../collector/src/channel/channel.ts';
import { PRODUCERS, STATE_NAMESPACE, checksum, prng, requestEvents, type AckLine } from './workload.ts';

const [file, seedArg, runArg] = process.argv.slice(2);
if (!file || !seedArg || !runArg) {
  process.stderr.write('usage: append-child.ts FILE SEED RUN\n');
  process.exit(2);
}
const seed = Number(seedArg);
const run = Number(runArg);

// Vary the channel's batching per run so kills land in different shapes of commit: small record
// batches (one request spans several), a commit window, frequent checkpoints (TRUNCATE included).
const options = prng(seed ^ (run * 7919));
const channel = Channel.open({
  file,
  retentionIntervalMs: 0,
  defaults: { retentionMs: null },
  commitWindowMs: [0, 0, 1, 3][Math.floor(options() * 4)],
  maxBatchEvents: [7, 100, 1000][Math.floor(options() * 3)],
  maxCommitEvents: [50, 20_000][Math.floor(options() * 2)],
  checkpointBytes: 256 * 1024,
  walMaxBytes: 512 * 1024,
});
process.stdout.write('{"ready":true}\n');

async function produce(p: number): Promise<void> {
  for (let seq = 0; ; seq++) {
    const events = requestEvents(seed, run, p, seq);
    const sum = checksum(events);
    const result = await channel.append({ events, state: [{ namespace: STATE_NAMESPACE, key: `p${p}`, value: `${run}:${seq}` }] });
    const line: AckLine = { run, p, seq, sum, ranges: result.ranges };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
}

for (let p = 0; p < PRODUCERS; p++) {
  produce(p).catch((error: unknown) => {
    process.stderr.write(`producer ${p}: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
