// The learner's files — main.go, lessons/<id>/main.go, progress.json — kept by
// the page in IndexedDB, so that opening and saving a file never waits for
// engine.wasm. engine.wasm (tools.js) is asked only for the zip archive of
// Export and Import, whose checks are the contract for what a workspace may
// hold, and, once, for the files of the workspace earlier versions kept
// inside it (hackpadfs on IndexedDB), which this one takes over.

/** @typedef {ReturnType<typeof import("./tools.js").createTools>} Tools */

/** Our database: one object store of files, name → text, and one of facts about it. */
const DB_NAME = "sockstep-workspace";
const DB_VERSION = 1;
const FILES = "files";
const META = "meta";
/** In META: the old workspace has been brought over (or there was none). */
const MIGRATED = "migrated";
/** The database earlier versions kept the workspace in, through hackpadfs in engine.wasm. */
const LEGACY_DB_NAME = "sockstep";

/**
 * Opens the workspace. load and save wait for nothing but IndexedDB, except the first time, when
 * an old workspace exists: they wait until its files are brought over (which needs engine.wasm).
 * Should that fail, they reject saying so, and the next call tries again.
 *
 * ahead resolves to files read ahead (boot.js: readFirst), which their first loads take, unless
 * they were written before.
 * @param {Tools} tools
 * @param {Promise<ReadAhead>} [ahead]
 */
export async function openWorkspace(tools, ahead = Promise.resolve(null)) {
  /** @type {Promise<void> | null} */
  let migration = null;
  /** Files read ahead, by name, until their first load. */
  const early = /** @type {Map<string, string | null>} */ (new Map());
  /** Files written since the reads ahead began: what was read of them is stale. */
  const written = new Set();
  const readAhead = ahead.then(
    (files) => {
      for (const [name, text] of files ?? []) {
        if (!written.has(name) && !written.has("*")) early.set(name, text);
      }
    },
    () => {}, // the loads read for themselves
  );
  // Our own connection, once the reads ahead are in: the first file's load need not wait for it,
  // and the reads are not slowed by a second connection opening beside them.
  const opening = readAhead.then(openDatabase);
  opening.catch(() => {}); // told by the calls that wait for it

  /** Resolves once the old workspace is brought over; a failure is tried again by the next call. */
  function migrated() {
    migration ??= opening.then((db) =>
      migrate(db, tools).catch((err) => {
        migration = null;
        throw new Error(`could not bring over your files from the previous version of sockstep: ${describe(err)}`);
      }),
    );
    return migration;
  }
  migrated().catch(() => {}); // begun now; its failure is told by the calls that wait for it

  return {
    /**
     * A file's text, or null when there is none.
     * @param {string} name
     * @returns {Promise<string | null>}
     */
    async load(name) {
      checkName(name);
      await readAhead;
      const ahead = early.get(name);
      if (ahead !== undefined) {
        early.delete(name);
        return ahead;
      }
      const db = await opening;
      await migrated();
      const text = await request(db.transaction(FILES).objectStore(FILES).get(name));
      return typeof text === "string" ? text : null;
    },

    /**
     * @param {string} name
     * @param {string} source
     * @returns {Promise<void>}
     */
    async save(name, source) {
      checkName(name);
      written.add(name);
      early.delete(name);
      const db = await opening;
      await migrated();
      const tx = db.transaction(FILES, "readwrite");
      tx.objectStore(FILES).put(source, name);
      await done(tx);
    },

    /**
     * The names of every file, sorted.
     * @returns {Promise<string[]>}
     */
    async names() {
      const db = await opening;
      await migrated();
      return (await request(db.transaction(FILES).objectStore(FILES).getAllKeys())).map(String).sort();
    },

    /**
     * The whole workspace as a zip archive.
     * @returns {Promise<Uint8Array>}
     */
    async exportArchive() {
      const db = await opening;
      await migrated();
      return tools.zip(await allFiles(db));
    },

    /**
     * Writes the files of a zip made by exportArchive, replacing files of the same name and keeping
     * the others; resolves to the names written, sorted. The archive is checked whole before
     * anything is written, and written in one transaction: a bad archive is refused, naming the
     * entry, and changes nothing.
     * @param {Uint8Array} archive
     * @returns {Promise<string[]>}
     */
    async importArchive(archive) {
      early.clear();
      written.add("*");
      const db = await opening;
      await migrated();
      const existing = /** @type {string[]} */ (await request(db.transaction(FILES).objectStore(FILES).getAllKeys()));
      const files = await tools.unzip(archive, existing);
      await putAll(db, files);
      return Object.keys(files).sort();
    },
  };
}

/**
 * Files read ahead: [name, text or null when there is none], or null when nothing was read.
 * @typedef {[string, string | null][] | null} ReadAhead
 */

/**
 * Reads first, then the file then(first's text) names, with the migration's mark, in one
 * transaction of a connection of its own, closed after: boot.js reads so the page's first file
 * while the rest of the page loads. null when what the workspace holds is not known yet (an old
 * workspace is still to be brought over).
 * @param {string} first
 * @param {(text: string | null) => string} then
 * @returns {Promise<ReadAhead>}
 */
export async function readFirst(first, then) {
  const text = (/** @type {unknown} */ v) => (typeof v === "string" ? v : null);
  checkName(first);
  // Which databases there are, asked beside opening ours: a fresh profile has none, and then the
  // workspace is empty, known without waiting for ours to be created.
  const listing =
    typeof indexedDB !== "undefined" && typeof indexedDB.databases === "function"
      ? indexedDB.databases().then((dbs) => dbs.map((d) => d.name))
      : Promise.resolve(null);
  const opening = openDatabase();
  opening.catch(() => {}); // told below, when it is waited for
  const names = await listing.catch(() => null);
  const legacy = names ? names.includes(LEGACY_DB_NAME) : true; // unknown: an old workspace may be there
  if (names && !names.includes(DB_NAME)) {
    opening.then((db) => db.close(), () => {}); // created meanwhile: the workspace opens its own
    if (legacy) return null; // its files come first
    const second = then(null);
    checkName(second);
    return second === first ? [[first, null]] : [[first, null], [second, null]];
  }
  const db = await opening;
  try {
    const tx = db.transaction([FILES, META]);
    const files = tx.objectStore(FILES);
    const mark = tx.objectStore(META).get(MIGRATED);
    const firstRead = files.get(first);
    const second = { name: "", req: /** @type {IDBRequest | null} */ (null) };
    firstRead.onsuccess = () => {
      second.name = then(text(firstRead.result));
      checkName(second.name);
      second.req = files.get(second.name);
    };
    await done(tx);
    if (!mark.result && legacy) return null; // the old workspace's files come first
    /** @type {[string, string | null][]} */
    const read = [[first, text(firstRead.result)]];
    if (second.req) read.push([second.name, text(second.req.result)]);
    return read;
  } finally {
    db.close();
  }
}

/** @returns {Promise<IDBDatabase>} */
async function openDatabase() {
  if (typeof indexedDB === "undefined") throw new Error("this browser keeps no files for pages (no IndexedDB)");
  const open = indexedDB.open(DB_NAME, DB_VERSION);
  open.onupgradeneeded = () => {
    open.result.createObjectStore(FILES);
    open.result.createObjectStore(META);
  };
  /** @type {IDBDatabase} */
  let db;
  try {
    db = await request(open);
  } catch (err) {
    throw new Error(`could not open your files in the browser's storage: ${describe(err)}`);
  }
  // Another tab of a newer version upgrades the database: let it (this tab's saves then fail, saying so).
  db.onversionchange = () => db.close();
  return db;
}

/**
 * Brings the old workspace's files over, once: when ours has never been migrated and the old
 * database exists. Nothing is saved before (load and save wait for this), and the files go in
 * with the mark that it is done, in one transaction that first looks for the mark again (another
 * tab may have migrated meanwhile, and the learner saved there since): so no file of the
 * learner's is ever overwritten by an older one.
 * @param {IDBDatabase} db
 * @param {Tools} tools
 */
async function migrate(db, tools) {
  if (await request(db.transaction(META).objectStore(META).get(MIGRATED))) return;
  const files = (await legacyMayExist()) ? await tools.legacyFiles() : null;
  const tx = db.transaction([FILES, META], "readwrite");
  const mark = tx.objectStore(META).get(MIGRATED);
  mark.onsuccess = () => {
    if (mark.result) return;
    for (const [name, text] of Object.entries(files ?? {})) tx.objectStore(FILES).put(text, name);
    tx.objectStore(META).put(new Date().toISOString(), MIGRATED);
  };
  await done(tx);
}

/**
 * Whether the old database may exist, without engine.wasm. Browsers without
 * indexedDB.databases() cannot tell: engine.wasm then looks (and finds nothing).
 */
async function legacyMayExist() {
  if (typeof indexedDB.databases !== "function") return true;
  const dbs = await indexedDB.databases();
  return dbs.some((d) => d.name === LEGACY_DB_NAME);
}

/**
 * Writes files in one transaction: all of them, or none.
 * @param {IDBDatabase} db
 * @param {Record<string, string>} files
 */
async function putAll(db, files) {
  const tx = db.transaction(FILES, "readwrite");
  for (const [name, text] of Object.entries(files)) tx.objectStore(FILES).put(text, name);
  await done(tx);
}

/**
 * Every file, name → text.
 * @param {IDBDatabase} db
 * @returns {Promise<Record<string, string>>}
 */
async function allFiles(db) {
  const store = db.transaction(FILES).objectStore(FILES);
  const [names, texts] = await Promise.all([request(store.getAllKeys()), request(store.getAll())]);
  /** @type {Record<string, string>} */
  const files = {};
  names.forEach((name, i) => {
    files[String(name)] = texts[i];
  });
  return files;
}

/**
 * Refuses names that are not plain relative paths ("", "/x", "../x", "a//b", "C:x", "a\\b") or
 * that are hidden (".x"): the archive's rule (wasm/workspace), so that every export imports.
 * @param {string} name
 */
function checkName(name) {
  const valid =
    typeof name === "string" && !/[\\:]/.test(name) && name.split("/").every((p) => p !== "" && !p.startsWith("."));
  if (!valid) throw new Error(`${JSON.stringify(name)} is not a valid file name: use a relative path like main.go`);
}

/**
 * @template T
 * @param {IDBRequest<T>} req
 * @returns {Promise<T>}
 */
function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("the browser's storage failed"));
  });
}

/**
 * Resolves once tx has committed; rejects when it aborted (then nothing of it was written).
 * @param {IDBTransaction} tx
 * @returns {Promise<void>}
 */
function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = tx.onabort = () => reject(tx.error ?? new Error("the browser's storage refused the change"));
  });
}

/** @param {unknown} err */
function describe(err) {
  return err instanceof Error ? err.message : String(err);
}
