// `npx lainlet ...` (the README's run line; also `npm exec` and `npm run`) makes the process
// tree npm -> sh -c -> node. npm passes SIGTERM and SIGINT on to that shell only; the shell
// dies of it and leaves lainlet running as an orphan that still listens, so a supervisor that
// signals its main PID (npm's) sees npm exit and the daemon stay. Node cannot ask the kernel
// for a signal on its parent's death (prctl PR_SET_PDEATHSIG), so when npm started us we look
// at our parent PID instead: once we have been re-parented, we stop as on SIGTERM. Not done
// outside npm, where a re-parented lainlet (nohup, a shell that exited) is meant to keep running.

/** How often the parent PID is looked at; a stop then takes at most this plus the daemon's own close. */
const POLL_MS = 250;

/** Under npm, SIGTERM ourselves once the process that started us is gone. */
export function stopWhenNpmParentExits(env: NodeJS.ProcessEnv = process.env): void {
  // npm sets this for every script and `npm exec`/npx.
  if (env.npm_lifecycle_event === undefined) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    process.kill(process.pid, 'SIGTERM');
  }, POLL_MS);
  timer.unref();
}
