// Run as a child process by test/integration/client.test.ts: uses the client's watch and get in
// every way that must release everything, then returns without calling process.exit. The parent
// requires this process to exit on its own (a leaked socket or timer would keep it alive).
// argv: <lainlet port> <a closed port>
import { LainletClient, LainletConnectionError } from '../../src/client/index.js';

const [port, closedPort] = process.argv.slice(2);
const client = new LainletClient({ addr: `127.0.0.1:${port}` });
const report: string[] = [];

// 1. abort while the stream is open (waiting for the next event after init)
{
  const ac = new AbortController();
  const events = client.watch('coreinfo', { appname: 'hello' }, { signal: ac.signal, heartbeatSeconds: 1 });
  let n = 0;
  setTimeout(() => ac.abort(), 300);
  for await (const ev of events) n += ev.event === 'init' ? 1 : 0;
  report.push(`abort-open:${n}`);
}
// 2. break out of the loop
{
  for await (const ev of client.watch('config', { target: 'domain' }, { heartbeatSeconds: 1 })) {
    report.push(`break:${ev.event}`);
    break;
  }
}
// 3. abort while waiting to reconnect (nothing listens on closedPort)
{
  const ac = new AbortController();
  const dead = new LainletClient({ addr: `127.0.0.1:${closedPort}` });
  let errors = 0;
  const events = dead.watch('nodes', {}, {
    signal: ac.signal,
    onError: () => {
      if (++errors === 2) ac.abort();
    },
  });
  for await (const _ of events) report.push('unexpected event');
  report.push(`abort-backoff:${errors}`);
}
// 4. a GET aborted in flight, and a GET to nothing
{
  const ac = new AbortController();
  const p = client.coreinfo({}, { signal: ac.signal });
  ac.abort();
  await p.then(
    () => report.push('get-abort:resolved'),
    (err: Error) => report.push(`get-abort:${err.name}`),
  );
  await new LainletClient({ addr: `127.0.0.1:${closedPort}` }).apps().catch((err: Error) => report.push(`get-closed:${err instanceof LainletConnectionError}`));
}
// 5. aborted before it starts
{
  const ac = new AbortController();
  ac.abort();
  let n = 0;
  for await (const _ of client.watch('apps', {}, { signal: ac.signal })) n++;
  report.push(`pre-aborted:${n}`);
}
// What still holds the event loop (stdout's pipe is expected), once closing sockets had a moment.
await new Promise((resolve) => setTimeout(resolve, 200));
const left = process.getActiveResourcesInfo().filter((r) => r !== 'PipeWrap' && r !== 'TTYWrap');
process.stdout.write(`${JSON.stringify({ report, left })}\n`);
