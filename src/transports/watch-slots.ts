// Watch slots, shared by the HTTP and gRPC transports. A watch stream costs a socket, timers and
// a share of every update for as long as it stays open, so a caller that is no container must
// not be able to take them all: each source address gets at most `perAddress` slots (local
// callers excepted), and the last `reserved` slots are kept for local and super callers (the
// node's webrouter, networkd, console...).
import { isLocal, isSuper } from '../auth/auth.js';
import type { ClusterState } from '../state/types.js';
import type { NodeContext } from '../views/types.js';

export interface WatchSlotLimits {
  /** Open watch streams, HTTP and gRPC together (`-max-watchers`). */
  total: number;
  /** Open watch streams per source address; local callers are not counted (`-max-watchers-per-ip`). */
  perAddress: number;
  /** Of `total`, the slots only local and super callers may take (`-reserved-watchers`). */
  reserved: number;
}

export const DEFAULT_MAX_WATCHERS = 20_000;
export const DEFAULT_MAX_WATCHERS_PER_IP = 200;
/** Default of `reserved`: a tenth of `total`. */
export const defaultReservedWatchers = (total: number): number => Math.floor(total / 10);

/** Who asks for a slot. */
export interface SlotCaller {
  ip: string;
  /** 127.0.0.1, ::1 or the `-ip` address: no per-address limit. */
  local: boolean;
  /** Local or super: may take the reserved slots. */
  privileged: boolean;
}

/** The slot caller for an IP, by the auth rules (docs/API.md, "Who may call"). */
export function slotCaller(ip: string, state: ClusterState, node: NodeContext): SlotCaller {
  return { ip, local: isLocal(ip, node), privileged: isSuper(ip, state, node) };
}

export type SlotGrant = { release(): void } | { refused: string };

export class WatchSlots {
  private open = 0;
  private readonly byAddress = new Map<string, number>();
  readonly stats = { refusedTotal: 0, refusedReserved: 0, refusedPerAddress: 0 };
  readonly limits: WatchSlotLimits;

  constructor(limits: Partial<WatchSlotLimits> = {}) {
    const total = limits.total ?? DEFAULT_MAX_WATCHERS;
    this.limits = {
      total,
      perAddress: limits.perAddress ?? DEFAULT_MAX_WATCHERS_PER_IP,
      reserved: Math.min(limits.reserved ?? defaultReservedWatchers(total), total),
    };
  }

  /** Takes a slot for a watch; release() it when the watch ends (more than once is harmless). */
  acquire(caller: SlotCaller): SlotGrant {
    const { total, perAddress, reserved } = this.limits;
    if (this.open >= total) {
      this.stats.refusedTotal++;
      return { refused: `too many watchers (limit ${total})` };
    }
    if (!caller.privileged && this.open >= total - reserved) {
      this.stats.refusedReserved++;
      return { refused: `too many watchers (limit ${total}; the last ${reserved} are kept for local and super callers)` };
    }
    const mine = this.byAddress.get(caller.ip) ?? 0;
    if (!caller.local && mine >= perAddress) {
      this.stats.refusedPerAddress++;
      return { refused: `too many watchers from ${caller.ip} (limit ${perAddress} per address)` };
    }
    this.open++;
    if (!caller.local) this.byAddress.set(caller.ip, mine + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.open--;
        if (caller.local) return;
        const left = (this.byAddress.get(caller.ip) ?? 1) - 1;
        if (left > 0) this.byAddress.set(caller.ip, left);
        else this.byAddress.delete(caller.ip);
      },
    };
  }

  /** For /debug. */
  status() {
    return { open: this.open, addresses: this.byAddress.size, ...this.limits, ...this.stats };
  }
}
