// The page⇄engine protocol and the engine's JavaScript API.
//
// Whichever engine runs the learner's program — a runner process behind the
// bridge (engine-host.js, the default) or engine.wasm in the page's worker
// (engine-page.js) — the page sends it Requests and reads one stream of
// events back, JSON arrays of EngineEvent; an AnswerEvent settles a request.
// Mirrors wasm/engine/protocol.go (Request, the Method* constants) and
// wasm/engine/event.go (one Go type per event, of the same name and fields):
// TestPageTypesMatch keeps the two in step. The global engine.wasm sets
// mirrors wasm/main_js.go: change both together.

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
  | SessionEvent
  | AnswerEvent
  | ProcessEvent
  | SkippedEvent;

/** What the program printed. */
export interface OutputEvent {
  type: "output";
  stream: "stdout" | "stderr";
  text: string;
}

/** The program made a socket call, which waits for its result. */
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
  /**
   * Empty when the program ended normally; else how it ended: `exit status 3`, `terminated by
   * SIGTERM`, `killed after Stop`, `panic: boom`, a sentence about memory or recursion.
   */
  error: string;
}

/** The in-page runner lost the bridge (the host runner's page sees its WebSocket close instead). */
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
 * The bridge's id of this page's session: the first event once connected. The page names its
 * session with it in POST /api/check.
 */
export interface SessionEvent {
  type: "session";
  id: string;
}

/** Settles request `id`: `value` on success, or `error`, a sentence. */
export interface AnswerEvent {
  type: "answer";
  id: number;
  /** The answer of the request's method (Methods[method]["answer"]); null for none. */
  value: unknown;
  /** Present when the request failed. */
  error?: string;
}

/** A runner process started the program (the host runner only). */
export interface ProcessEvent {
  type: "process";
  pid: number;
  /** The process's name, as `ps` and `ss -tlnp` show it. */
  name: string;
}

/**
 * Under a flood, the engine left out this many call events (with their results) and bytes of
 * output before the events that follow, so that the page gets the newest ones.
 */
export interface SkippedEvent {
  type: "skipped";
  calls: number;
  bytes: number;
}

// ---- Requests: page → engine ----

export type StepKind = "step" | "into" | "out" | "call" | "continue";

/** Which engine runs the program: a runner process on the host, or engine.wasm in the page. */
export type Runner = "host" | "page";

/** run: starts a program. */
export interface RunArgs {
  source: string;
  /** The file's workspace name (main.go, lessons/04-accepting/main.go): the runner process's name. */
  name: string;
  /** Stop at the first line main runs. */
  debug?: boolean;
  /** 1-based lines to stop at. */
  breakpoints?: number[];
}

/** step: resumes a paused program. */
export interface StepArgs {
  kind: StepKind;
  /** The goroutine to step; 0 or absent for the one that stopped. */
  goroutine?: number;
}

/** setBreakpoints: replaces the running program's breakpoints. */
export interface SetBreakpointsArgs {
  /** 1-based lines. */
  lines: number[];
}

/**
 * client: one of the client panel's operations, performed by the bridge on the host: real TCP
 * connections that are not the learner's descriptors and end with the session.
 */
export type ClientArgs =
  | { op: "open"; /** Where to connect: 127.0.0.1:9000. */ addr: string }
  | { op: "send"; /** The client's id. */ client: number; data: string }
  /** shutdown: shut down writing. */
  | { op: "shutdown" | "close"; client: number };

/** What client open answers. */
export interface ClientOpened {
  id: number;
  /** The client's own address: 127.0.0.1:53122. */
  local: string;
}

/** check and format (engine.wasm only): the program, as the editor holds it. */
export interface SourceArgs {
  source: string;
}

/** No arguments. */
export type NoArgs = Record<string, never>;

/** Each method of a Request: what it carries besides id and method, and what it answers. */
export interface Methods {
  /** Answers once the program started: the runner's process id, 0 in the page. The exit event says how it ended. */
  run: { args: RunArgs; answer: { pid: number } };
  /** Rejects when the program is not paused. */
  step: { args: StepArgs; answer: null };
  /** Stops the running program at the next line a goroutine reaches. */
  pause: { args: NoArgs; answer: null };
  setBreakpoints: { args: SetBreakpointsArgs; answer: null };
  /** The runner gets SIGTERM, then SIGKILL after a grace period; answers at once, the exit event follows. */
  stop: { args: NoArgs; answer: null };
  /** open answers ClientOpened, send the bytes sent, shutdown and close null. */
  client: { args: ClientArgs; answer: ClientOpened | number | null };
  /** Compiles without running: the diagnostics, none when it compiles. */
  check: { args: SourceArgs; answer: DiagnosticEvent[] };
  /** The source as gofmt formats it; an error places the first syntax error. */
  format: { args: SourceArgs; answer: string };
}

export type Method = keyof Methods;

/** One request, as it travels: `id` is the page's, and its answer carries it back. */
export type Request = { [M in Method]: { id: number; method: M } & Methods[M]["args"] }[Method];

// ---- The engine as the page drives it (engine-host.js, engine-page.js) ----

export interface Engine {
  readonly runner: Runner;
  /** Connects; resolves once the engine takes requests. Rejects, in words, when it cannot connect. */
  start(): Promise<void>;
  /** Sends a request; settles with its answer, or rejects when the engine is gone first. */
  request<M extends Method>(method: M, args: Methods[M]["args"]): Promise<Methods[M]["answer"]>;
  /** Disconnects for good; the requests still waiting reject. */
  close(): void;
}

/** What an engine tells the page. */
export interface EngineCallbacks {
  /** Its events in order, as they arrive, answers left out (they settle requests). */
  onEvents(events: EngineEvent[]): void;
  /**
   * After start resolved, the engine became of no use: `crash`, engine.wasm died (a fresh one can
   * start at once); `disconnect`, the bridge is gone (try again later).
   */
  onGone(message: string, kind: "crash" | "disconnect"): void;
}

// ---- The page ⇄ worker messages (site/src/worker.js) ----
// A worker has one of two roles, chosen by its init message: the in-page runner (with the
// bridge's address) or the editor's tools (tools.js: check, format, and the workspace's zip).

/** Files as the workspace holds them: name → text. */
export type Files = Record<string, string>;

/** Page → worker. */
export type ToWorker =
  /** First message of the in-page runner: the compiled engine.wasm and the bridge's /ws. */
  | { type: "init"; module: WebAssembly.Module; bridgeURL: string }
  /** First message of the editor's tools: no bridge. */
  | { type: "init"; module: WebAssembly.Module }
  /** Answered by an AnswerEvent among the events; the runner sends them once started. */
  | { type: "request"; request: Request }
  /** The tools: a zip of files; answered by zipped. */
  | { type: "zip"; id: number; files: Files }
  /** The tools: the files of an archive made by zip, for a workspace holding existing; answered by unzipped. */
  | { type: "unzip"; id: number; archive: Uint8Array; existing?: string[] }
  /** The tools: the workspace earlier versions kept inside engine.wasm; answered by legacyFiles. */
  | { type: "legacy"; id: number };

/** Worker → page. */
export type FromWorker =
  /** The in-page runner connected to the bridge: requests may follow. */
  | { type: "started" }
  /** The in-page runner could not connect to the bridge. */
  | { type: "startFailed"; message: string }
  /** Engine events in the order they happened: a JSON array of EngineEvent. */
  | { type: "events"; json: string }
  /** The Go program behind the engine exited, or the worker failed: it is of no more use. */
  | { type: "engineStopped"; message: string }
  | { type: "zipped"; id: number; archive?: Uint8Array; error?: string }
  /** error names the first bad entry; then nothing may be written. */
  | { type: "unzipped"; id: number; files?: Files; error?: string }
  /** files is null when there is no old workspace. */
  | { type: "legacyFiles"; id: number; files?: Files | null; error?: string };

// ---- The one global engine.wasm sets (wasm/main_js.go, wasm/files_js.go) ----

export interface SockstepEngine {
  /**
   * Readies the engine. onEvents receives its events in order, in batches, each a JSON array of
   * EngineEvent: calls, results and output may wait up to 16 ms to travel together; anything
   * else goes at once with what waited before it. With bridgeURL (ws(s)://host/ws?token=…)
   * this is the in-page runner, and start resolves once connected; without, the editor's tools.
   */
  start(opts: { onEvents: (json: string) => void; bridgeURL?: string }): Promise<void>;
  /** Takes one Request, as JSON; its AnswerEvent follows among the events, after those it caused. */
  request(json: string): void;
  /** The zip archive of files. */
  zip(files: Files): Promise<Uint8Array>;
  /**
   * The files of a zip made by zip, every entry checked (plain relative names, UTF-8 text, the
   * limits; none where existing has a directory); rejects naming the first bad entry.
   */
  unzip(archive: Uint8Array, existing?: string[]): Promise<Files>;
  /** Every file of the workspace earlier versions kept on hackpadfs in IndexedDB; null when none. */
  legacyFiles(): Promise<Files | null>;
}

declare global {
  var sockstepEngine: SockstepEngine | undefined;
}
