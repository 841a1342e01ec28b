// The engine's JavaScript API and events, as docs/architecture.md states them.
// Mirrors values from wasm/main_js.go: change both together.

/** What the engine reports through onEvents, in JSON arrays. Every event has a `type`. */
export type EngineEvent =
  | OutputEvent
  | CallEvent
  | ResultEvent
  | DiagnosticEvent
  | ExitEvent
  | DisconnectedEvent
  | SocketsEvent
  | ClientDataEvent
  | ClientEOFEvent
  | ClientClosedEvent
  | PausedEvent
  | ResumedEvent
  | SessionEvent;

/** What the program printed. */
export interface OutputEvent {
  type: "output";
  stream: "stdout" | "stderr";
  text: string;
}

/** A socket call was sent to the bridge and waits for its result. */
export interface CallEvent {
  type: "call";
  /** Matches the `result` that completes it. */
  id: number;
  /** The call, strace-like: `accept(3)`. */
  text: string;
}

/** The host answered call `id`. */
export interface ResultEvent {
  type: "result";
  id: number;
  /** What it returned: `4 (peer 127.0.0.1:53122)`, `-1 EADDRINUSE: …`, `refused: … [policy …]`. */
  text: string;
  /** True for a kernel error or a policy refusal. */
  failed: boolean;
}

/** An error at a place in the learner's source. */
export interface DiagnosticEvent {
  type: "diagnostic";
  kind: "compile" | "panic";
  /** 1-based. */
  line: number;
  /** 1-based; 0 when unknown. */
  column: number;
  message: string;
}

/** The program ended. */
export interface ExitEvent {
  type: "exit";
  /** Empty when the program ended normally. */
  error: string;
}

/** The bridge went away. */
export interface DisconnectedEvent {
  type: "disconnected";
  message: string;
}

/** The kernel's table of the session's sockets changed; `sockets` is all of it (native/wire.SocketInfo). */
export interface SocketsEvent {
  type: "sockets";
  sockets: SocketInfo[];
  /** What the host could not tell (e.g. leftovers on macOS); empty when all is known. */
  message: string;
}

/** One socket as the kernel reports it. An absent field is unknown on this host (or does not apply). */
export interface SocketInfo {
  /** The learner's descriptor; absent for a client or a leftover. */
  fd?: number;
  /** The client panel's id, for one of its connections. */
  client?: number;
  /** No descriptor owns it: left by a close (TIME_WAIT…), or waiting in an accept queue. */
  orphan?: boolean;
  listening?: boolean;
  /** LISTEN, SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT1, FIN_WAIT2, TIME_WAIT, CLOSE, CLOSE_WAIT, LAST_ACK, CLOSING; absent when unknown. */
  state?: string;
  /** "127.0.0.1:9000" */
  local?: string;
  peer?: string;
  /** Listener: connections waiting for accept. Connected: bytes received, not yet read. */
  queue?: number;
  /** Listener: the accept queue's limit. */
  backlog?: number;
  /** Connected: bytes sent, not yet acknowledged. */
  unsent?: number;
  /** A TIME_WAIT leftover: milliseconds until the kernel drops it. */
  timer?: number;
}

/** A client of the client panel received bytes. */
export interface ClientDataEvent {
  type: "client-data";
  client: number;
  /** The bytes, base64. */
  data: string;
}

/** The server closed its side of a client's connection (a read returned 0); the client may still send. */
export interface ClientEOFEvent {
  type: "client-eof";
  client: number;
  message: string;
}

/** A client is gone: "closed", an errno and its explanation, or "the session ended". */
export interface ClientClosedEvent {
  type: "client-closed";
  client: number;
  message: string;
}

/** The client panel's operations. */
export type ClientOp = "open" | "send" | "shutdown" | "close";

/** One variable in scope where the program stopped. */
export interface Variable {
  name: string;
  /** Rendered: descriptors as numbers, errors by errno name, []byte quoted, addresses as 127.0.0.1:53122. */
  value: string;
  /** Differs from this goroutine's previous stop (or is new since). */
  changed: boolean;
}

/** One goroutine of the program where it stopped. */
export interface GoroutineInfo {
  /** 1 is main, then in the order they started. */
  id: number;
  /** The last line it passed; 0 when not known yet. */
  line: number;
  state: "running" | "paused" | "blocked";
  /** blocked: the socket call it waits in, `accept(3)`. */
  call: string;
}

/** The program stopped: every goroutine parks at its next line. */
export interface PausedEvent {
  type: "paused";
  /** The goroutine that stopped. */
  goroutine: number;
  line: number;
  reason: "breakpoint" | "step" | "call" | "pause";
  /** reason "call": `about to call bind(3, 127.0.0.1:9000)`; else empty. */
  call: string;
  variables: Variable[];
  goroutines: GoroutineInfo[];
  /** How many `call` events were sent before this stop. */
  traceLength: number;
}

/** A paused program runs again. */
export interface ResumedEvent {
  type: "resumed";
}

/**
 * The bridge's id of this page's session, from its hello, sent once when start connects.
 * The page names its session with it in POST /api/check.
 */
export interface SessionEvent {
  type: "session";
  id: string;
}

export type StepKind = "step" | "into" | "out" | "call" | "continue";

export interface RunOptions {
  /** Stop at the first line main runs. */
  debug?: boolean;
  /** 1-based lines to stop at. */
  breakpoints?: number[];
}

export interface StartOptions {
  /** ws(s)://host/ws, with ?token=… when the page had one. */
  bridgeURL: string;
  /**
   * Receives the engine's events in order, in batches: each call a JSON array of EngineEvent.
   * Calls, results and output may wait up to 16 ms to travel together; anything else goes at once
   * with what waited before it, and every Promise of the engine settles after the events it caused.
   */
  onEvents: (json: string) => void;
}

/** The one global engine.wasm sets. */
export interface SockstepEngine {
  /** Connects to the bridge; resolves once connected. */
  start(opts: StartOptions): Promise<void>;
  /** Runs one program; resolves when it ends. */
  run(source: string, opts?: RunOptions): Promise<void>;
  /** Resumes a paused program; goroutine 0 (or absent) is the one that stopped. Rejects when not paused. */
  step(kind: StepKind, goroutine?: number): Promise<void>;
  /** Stops the running program at the next line a goroutine reaches. */
  pause(): Promise<void>;
  /** Replaces the running program's breakpoints. */
  setBreakpoints(lines: number[]): Promise<void>;
  /** A workspace file's text, or null when there is no such file. */
  load(name: string): Promise<string | null>;
  save(name: string, source: string): Promise<void>;
  /** The whole workspace as a zip archive. */
  exportArchive(): Promise<Uint8Array>;
  /**
   * Writes the files of a zip made by exportArchive, replacing files of the same name and keeping
   * the others; resolves to the names written. Rejects, changing nothing, when any name is not a
   * plain relative path (no "..", absolute path, link or hidden file), a file is not UTF-8 text or
   * too large, or there are too many files.
   */
  importArchive(archive: Uint8Array): Promise<string[]>;
  /**
   * One of the client panel's operations, performed by the bridge on the host: real TCP
   * connections that are not the learner's descriptors and end with the session.
   * open({addr: "127.0.0.1:9000"}) resolves to {id, local}; send({id, data}) to the bytes sent;
   * shutdown({id}) (shut down writing) and close({id}) to undefined. Rejects with a refusal
   * by the bridge's policy or the kernel's error, in words.
   */
  client(op: "open", args: { addr: string }): Promise<{ id: number; local: string }>;
  client(op: "send", args: { id: number; data: string }): Promise<number>;
  client(op: "shutdown" | "close", args: { id: number }): Promise<void>;
}

declare global {
  var sockstepEngine: SockstepEngine | undefined;
}

// ---- The page ⇄ worker messages (site/src/worker.js), not part of the engine ----

/** Page → worker. */
export type ToWorker =
  /** First message: the compiled engine.wasm and where the bridge is. */
  | { type: "init"; module: WebAssembly.Module; bridgeURL: string }
  | { type: "run"; source: string; debug?: boolean; breakpoints?: number[] }
  | { type: "step"; kind: StepKind; goroutine?: number }
  | { type: "pause" }
  | { type: "setBreakpoints"; lines: number[] }
  | { type: "load"; id: number; name: string }
  | { type: "save"; id: number; name: string; source: string }
  | { type: "export"; id: number }
  | { type: "import"; id: number; archive: Uint8Array }
  /** A client panel operation; answered by clientDone with the same id. */
  | { type: "client"; id: number; op: ClientOp; args: object };

/** Worker → page. */
export type FromWorker =
  /** sockstepEngine.start resolved: connected to the bridge. */
  | { type: "started" }
  /** sockstepEngine.start rejected or timed out. */
  | { type: "startFailed"; message: string }
  /** Engine events in the order they happened: a JSON array of EngineEvent, as onEvents got it. */
  | { type: "events"; json: string }
  /** sockstepEngine.run settled; error is empty when it resolved. */
  | { type: "runDone"; error: string }
  /** Answer to load: source is null when the file does not exist; error when load failed. */
  | { type: "loaded"; id: number; source: string | null; error?: string }
  | { type: "saved"; id: number; error?: string }
  /** Answer to export: the zip, or error. */
  | { type: "exported"; id: number; archive?: Uint8Array; error?: string }
  /** Answer to import: the names written, or error (and nothing was written). */
  | { type: "imported"; id: number; names?: string[]; error?: string }
  /** Answer to client: result on success, error (in words) on failure. */
  | { type: "clientDone"; id: number; result?: any; error?: string }
  /** The Go program behind the engine exited, or the worker failed: it is of no more use. */
  | { type: "engineStopped"; message: string };
