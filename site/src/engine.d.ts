// The engine's JavaScript API and events, as docs/architecture.md states them.
// Mirrors values from wasm/main_js.go: change both together.

/** What the engine reports through onEvent, as JSON text. Every event has a `type`. */
export type EngineEvent =
  | OutputEvent
  | CallEvent
  | ResultEvent
  | DiagnosticEvent
  | ExitEvent
  | DisconnectedEvent;

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

export interface StartOptions {
  /** ws(s)://host/ws, with ?token=… when the page had one. */
  bridgeURL: string;
  /** Receives each event as JSON text. */
  onEvent: (json: string) => void;
}

/** The one global engine.wasm sets. */
export interface SockstepEngine {
  /** Connects to the bridge; resolves once connected. */
  start(opts: StartOptions): Promise<void>;
  /** Runs one program; resolves when it ends. */
  run(source: string): Promise<void>;
  /** A workspace file's text, or null when there is no such file. */
  load(name: string): Promise<string | null>;
  save(name: string, source: string): Promise<void>;
  /** The names of the workspace's files under dir ("" for all), sorted. */
  list(dir: string): Promise<string[]>;
  /** The whole workspace as a zip archive. */
  exportArchive(): Promise<Uint8Array>;
  /**
   * Writes the files of a zip made by exportArchive, replacing files of the same name and keeping
   * the others; resolves to the names written. Rejects, changing nothing, when any name is not a
   * plain relative path (no "..", absolute path, link or hidden file), a file is not UTF-8 text or
   * too large, or there are too many files.
   */
  importArchive(archive: Uint8Array): Promise<string[]>;
}

declare global {
  var sockstepEngine: SockstepEngine | undefined;
}

// ---- The page ⇄ worker messages (site/src/worker.js), not part of the engine ----

/** Page → worker. */
export type ToWorker =
  /** First message: the compiled engine.wasm and where the bridge is. */
  | { type: "init"; module: WebAssembly.Module; bridgeURL: string }
  | { type: "run"; source: string }
  | { type: "load"; id: number; name: string }
  | { type: "save"; id: number; name: string; source: string }
  | { type: "export"; id: number }
  | { type: "import"; id: number; archive: Uint8Array };

/** Worker → page. */
export type FromWorker =
  /** sockstepEngine.start resolved: connected to the bridge. */
  | { type: "started" }
  /** sockstepEngine.start rejected or timed out. */
  | { type: "startFailed"; message: string }
  /** An engine event, parsed; also Go runtime text on fd 2 as an `output` event on stderr. */
  | { type: "event"; event: EngineEvent }
  /** sockstepEngine.run settled; error is empty when it resolved. */
  | { type: "runDone"; error: string }
  /** Answer to load: source is null when the file does not exist; error when load failed. */
  | { type: "loaded"; id: number; source: string | null; error?: string }
  | { type: "saved"; id: number; error?: string }
  /** Answer to export: the zip, or error. */
  | { type: "exported"; id: number; archive?: Uint8Array; error?: string }
  /** Answer to import: the names written, or error (and nothing was written). */
  | { type: "imported"; id: number; names?: string[]; error?: string }
  /** The Go program behind the engine exited, or the worker failed: it is of no more use. */
  | { type: "engineStopped"; message: string };
