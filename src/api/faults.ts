// Fault injection (docs/faults.md): the faults a node can be told to simulate through
// `/admin/faults` when it runs with --enable-faults, and the port between the HTTP server and the
// node that carries them out (src/node/faults.ts). Shared by the server, the node and the client.

/** The faults in force on one node. Every field is always present; `noFaults` is none at all. */
export interface Faults {
  /** Member ids this node's outgoing peer messages to are dropped. */
  readonly dropTo: readonly string[];
  /** Member ids whose peer messages to this node are dropped on arrival. */
  readonly dropFrom: readonly string[];
  /** Every peer message, both ways, is dropped (client HTTP still works). */
  readonly isolate: boolean;
  /** The node behaves as a stopped process (SIGSTOP) while its HTTP server still answers. */
  readonly paused: boolean;
  /** Every fsync of this node's storage takes this many milliseconds longer. */
  readonly diskDelayMs: number;
  /** Every outgoing peer message leaves this many milliseconds late (order kept per peer). */
  readonly messageDelayMs: number;
}

/** POST /admin/faults: the fields it names are set, the others keep their value. */
export type FaultsPatch = Partial<Faults>;

export const noFaults: Faults = {
  dropTo: [],
  dropFrom: [],
  isolate: false,
  paused: false,
  diskDelayMs: 0,
  messageDelayMs: 0,
};

/** The field names of a POST body, in the order the docs give them. */
export const faultFields: readonly (keyof Faults)[] = [
  'dropTo',
  'dropFrom',
  'isolate',
  'paused',
  'diskDelayMs',
  'messageDelayMs',
];

/** A delay longer than this is refused (400): a minute is already far past any election timeout. */
export const maxFaultDelayMs = 60_000;

/** Which faults are active, by the name the metrics label them with (`raftkv_fault_active`). */
export type FaultName = 'isolate' | 'paused' | 'dropTo' | 'dropFrom' | 'diskDelay' | 'messageDelay';

export const faultNames: readonly FaultName[] = [
  'isolate',
  'paused',
  'dropTo',
  'dropFrom',
  'diskDelay',
  'messageDelay',
];

export function activeFaults(f: Faults): Record<FaultName, boolean> {
  return {
    isolate: f.isolate,
    paused: f.paused,
    dropTo: f.dropTo.length > 0,
    dropFrom: f.dropFrom.length > 0,
    diskDelay: f.diskDelayMs > 0,
    messageDelay: f.messageDelayMs > 0,
  };
}

/**
 * What the HTTP server needs of the node's fault injection. Present on every node: one started
 * without --enable-faults reports `enabled: false` and the routes answer 403 faults_disabled.
 */
export interface FaultControl {
  readonly enabled: boolean;
  current(): Faults;
  /**
   * Sets the fields `patch` names and keeps the others; answers the faults now in force. Throws
   * BadRequestError naming an id that is not another member of the cluster.
   */
  set(patch: FaultsPatch): Faults;
  /** Clears every fault (a paused node resumes); answers the now empty faults. */
  heal(): Faults;
  /**
   * Resolves at once unless the node is paused; else when it resumes. Rejects with TimeoutError at
   * `deadline` (the node's monotonic clock), ShuttingDownError if the node stops first.
   */
  untilRunning(deadline: number): Promise<void>;
  /** Forwarding a write to the current leader would cross a link the faults cut. */
  leaderCutOff(): boolean;
  /** For GET /debug: `enabled`, the faults, and what they did so far. */
  report(): Record<string, unknown>;
}
