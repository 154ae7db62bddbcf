// GET throughput: `conns` keep-alive connections, one request in flight each, for a fixed time.
import { CpuWindow, round, type Ctx } from './context.js';

export interface GetFigure {
  path: string;
  conns: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  answerBytes: number;
  errors: number;
  serverCpuPct: number;
  clientCpuPct: number;
  seconds: number;
}

export async function measureGet(ctx: Ctx, path: string, conns: number): Promise<GetFigure> {
  const durationMs = ctx.opts.quick ? 2000 : 10_000;
  const base = { type: 'get' as const, port: ctx.target.port, path, conns, sources: ctx.opts.sources };
  await ctx.client.call({ ...base, durationMs: ctx.opts.quick ? 300 : 1000 }); // warm-up
  const w = new CpuWindow(ctx.target);
  const r = await ctx.client.call({ ...base, durationMs });
  const cpu = w.end(r.cpuMs);
  const fig = {
    path,
    conns,
    reqPerSec: Math.round(r.requests / (r.elapsedMs / 1000)),
    p50Ms: round(r.latencyMs.p50),
    p99Ms: round(r.latencyMs.p99),
    answerBytes: r.bodyBytes,
    errors: r.errors,
    ...cpu,
  };
  ctx.log(`GET ${path} x${conns}: ${fig.reqPerSec} req/s, p99 ${fig.p99Ms} ms, ${fig.answerBytes} B, server ${cpu.serverCpuPct}% / client ${cpu.clientCpuPct}% CPU`);
  return fig;
}
