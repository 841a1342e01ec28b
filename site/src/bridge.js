// Where the bridge is, and how to reach it. The page is opened one of two ways:
//
// - From the bridge itself, at the address it printed (http://127.0.0.1:7777/?token=…): the bridge
//   is the page's own host. The token comes in the query; after the first load the bridge's
//   HttpOnly cookie carries it.
// - From a course's own site, which hosts the built page (site/dist), with the link that
//   `sockstep --allow-origin https://course.example` printed:
//   https://course.example/#bridge=127.0.0.1:7777&token=…. The fragment, which the browser never
//   sends to any server, carries the bridge's address (always on this computer: loopback) and its
//   token. The page keeps them for the tab's life (sessionStorage, so a reload still finds the
//   bridge), takes them out of the address bar, and sends the token with each connection: the
//   bridge's cookie is not the course site's. Requests of the lesson API (relative "api/…" URLs)
//   go to the bridge too.

/** sessionStorage's key for a hosted page's bridge. */
const STORE_KEY = "sockstep.bridge";
/** A bridge's address in a link: on this computer only, with a port. */
const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\]):(\d{1,5})$/;
/** A bridge's token: 128 random bits in hex. */
const TOKEN = /^[0-9a-f]{32,64}$/;
/** How long a look at what answers at the bridge's address may take. */
const PROBE_MS = 4000;

/** @typedef {{host: string, token: string}} Remote  a bridge other than the page's own host */

/** The bridge, when the page is hosted by another site; null: the page's own host, or unknown. */
let remote = /** @type {Remote | null} */ (null);
/** The page is hosted by a site other than the bridge (a course's). */
let hosted = false;
/** What was wrong with the link the page was opened with, if anything. */
let badLink = "";
/** fetch as the browser made it, before api/ requests were routed to the bridge. */
const pageFetch = globalThis.fetch.bind(globalThis);

/**
 * Finds the bridge — takes the token out of the address bar, keeping it out of bookmarks and
 * screenshots — and returns a maker of the bridge's WebSocket addresses.
 * @returns {(path: string) => string}  path "/engine" → ws(s)://host/engine?token=…; "" when the
 *   page is hosted and knows no bridge (connecting then fails with what to do: see connectTrouble)
 */
export function bridgeAddress() {
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  if (token !== null) {
    params.delete("token");
    const query = params.toString();
    history.replaceState(history.state, "", location.pathname + (query ? `?${query}` : "") + location.hash);
  }
  const linked = fromFragment();
  // A token in the query is the bridge's own link, which serves the page itself: no hosted page's
  // bridge to look up (a first read of sessionStorage waits for the browser's answer).
  remote = linked !== undefined ? linked : token !== null ? null : stored();
  hosted = remote !== null || badLink !== "" || !isLoopback(location.hostname);
  if (linked !== undefined) store(linked);
  if (hosted) routeAPI();
  addEventListener("hashchange", () => {
    const next = fromFragment();
    if (next === undefined || (next && remote && next.host === remote.host && next.token === remote.token)) return;
    // A new link (the bridge restarted: a new token) pasted into this tab: start afresh with it,
    // the learner's edits saved first.
    store(next);
    const w = /** @type {{sockstep?: {flush?: () => Promise<void>}}} */ (/** @type {unknown} */ (window));
    Promise.resolve(w.sockstep?.flush?.()).finally(() => location.reload());
  });
  return (path) => {
    if (remote) return `ws://${remote.host}${path}?token=${encodeURIComponent(remote.token)}`;
    if (hosted) return "";
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${location.host}${path}` + (token ? `?token=${encodeURIComponent(token)}` : "");
  };
}

/**
 * fetch for the lesson API: relative to the page when the bridge serves it, else to the bridge
 * on this computer with the token in the query (never a cookie). Until lessons.js calls it, the
 * page's fetch is routed here for "api/…" URLs (routeAPI).
 * @param {string} path  "api/lessons"
 * @param {RequestInit} [init]
 * @returns {Promise<Response>}
 */
export async function bridgeFetch(path, init) {
  if (!hosted) return pageFetch(path, init);
  if (!remote) throw new Error(await connectTrouble(""));
  try {
    return await pageFetch(apiURL(remote, path), toLoopback({ ...init, credentials: "omit" }));
  } catch (err) {
    if (init?.signal?.aborted) throw err;
    throw new Error(await connectTrouble(err instanceof Error ? err.message : String(err)));
  }
}

/**
 * What to tell the learner when the page could not connect to the bridge, why being what the
 * browser said. A page served by the bridge says only that; a hosted page looks at what answers
 * at the bridge's address and says what to do: start the bridge, open its newest link, allow this
 * site to reach programs on this computer (Chrome's Local Network Access), allow this site.
 * @param {string} why
 * @returns {Promise<string>}
 */
export async function connectTrouble(why) {
  if (!hosted) return `could not connect to the bridge: ${why}`;
  const start = `sockstep --allow-origin ${pageOrigin()}`;
  if (!remote) {
    return (
      (badLink ? `${badLink}. ` : "") +
      `This page runs your programs with sockstep, a small program on your computer. Start it there with ` +
      `\`${start}\` and open the link it prints (the line that starts with ${location.origin}).`
    );
  }
  const at = remote.host;
  const permission = await localNetworkPermission();
  if (permission === "denied") {
    return (
      `Your browser does not let this site reach programs on your computer, so it cannot reach sockstep at ${at}. ` +
      `Allow it: click the icon at the left of the address bar, open the site's settings, set "Local network access" ` +
      `(or "Local network" and "Apps on this device") to Allow, then reload this page.`
    );
  }
  const allowIt =
    `If your browser asks whether this site may "look for and connect to any device on your local network" ` +
    `(or "apps on this device"), allow it: that is how this page reaches sockstep on your computer.`;
  if (permission === "prompt") {
    // A look would wait for the learner's answer to that very question.
    return `No answer from sockstep at ${at}. ${allowIt} If it does not ask, start sockstep with \`${start}\` and open the link it prints.`;
  }
  const status = await probe(apiURL(remote, "api/lessons"), "cors");
  if (status === 403) {
    return (
      `sockstep at ${at} does not know this page's token: it has been restarted since this link was printed. ` +
      `Open the link it printed when it started last (each start prints a new one).`
    );
  }
  if (status > 0) return `could not connect to sockstep at ${at}: ${why}`; // it answers us, yet refused
  if ((await probe(apiURL(remote, "api/lessons"), "no-cors")) === 0) {
    return `No answer from the sockstep bridge at ${at}: is it running? Start it on this computer with \`${start}\` and open the link it prints. ${allowIt}`;
  }
  return (
    `A program answers at ${at}, but it does not let this site in: start sockstep with \`${start}\` ` +
    `(stop the one running first, or give it another --port) and open the link it prints.`
  );
}

/**
 * The link's bridge, taken out of the address bar: undefined when the fragment names none, null
 * when it names a bad one (badLink says what is wrong).
 * @returns {Remote | null | undefined}
 */
function fromFragment() {
  const hash = location.hash.slice(1);
  if (!hash) return undefined;
  const rest = [];
  let host = null;
  let token = null;
  for (const part of hash.split("&")) {
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq);
    if (key !== "bridge" && key !== "token") {
      rest.push(part); // someone else's (a shared program…): left as it is
      continue;
    }
    let value = "";
    try {
      value = decodeURIComponent(eq < 0 ? "" : part.slice(eq + 1));
    } catch {
      // a mangled link: told below
    }
    if (key === "bridge") host = value;
    else token = value;
  }
  if (host === null && token === null) return undefined;
  badLink = "";
  history.replaceState(history.state, "", location.pathname + location.search + (rest.length ? `#${rest.join("&")}` : ""));
  const port = host ? Number(LOOPBACK_HOST.exec(host)?.[3] ?? 0) : 0;
  if (!host || port < 1 || port > 65535) {
    badLink = `The link this page was opened with does not name a sockstep bridge on this computer (${JSON.stringify(host ?? "")})`;
    return null;
  }
  if (!token || !TOKEN.test(token)) {
    badLink = "The link this page was opened with has no valid token: copy the whole link sockstep printed";
    return null;
  }
  return { host, token };
}

/** The bridge this tab was opened with before a reload. */
function stored() {
  try {
    const r = JSON.parse(sessionStorage.getItem(STORE_KEY) ?? "null");
    if (r && typeof r.host === "string" && LOOPBACK_HOST.test(r.host) && typeof r.token === "string" && TOKEN.test(r.token)) {
      return /** @type {Remote} */ ({ host: r.host, token: r.token });
    }
  } catch {
    // no storage (a private window's settings): the link is needed after a reload
  }
  return null;
}

/** @param {Remote | null} r  null: forget the bridge */
function store(r) {
  try {
    if (r) sessionStorage.setItem(STORE_KEY, JSON.stringify(r));
    else sessionStorage.removeItem(STORE_KEY);
  } catch {
    // as above
  }
}

/** @param {string} hostname  location.hostname: "[::1]" for IPv6 */
function isLoopback(hostname) {
  return hostname === "localhost" || hostname === "[::1]" || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/** The --allow-origin the learner needs for this page: its origin, and its folder when not the root. */
function pageOrigin() {
  const dir = location.pathname.slice(0, location.pathname.lastIndexOf("/") + 1);
  return location.origin + (dir === "/" ? "" : dir);
}

/** @param {Remote} r @param {string} path "api/lessons" */
function apiURL(r, path) {
  const u = new URL(path.replace(/^\/+/, ""), `http://${r.host}/`);
  u.searchParams.set("token", r.token);
  return u.href;
}

/**
 * A request to this computer, marked as such: Chrome then knows before connecting that it needs
 * the Local Network Access permission (and does not take it for mixed content on an https page).
 * @param {RequestInit} init
 * @returns {RequestInit}
 */
function toLoopback(init) {
  return /** @type {RequestInit} */ ({ ...init, targetAddressSpace: "loopback" });
}

/**
 * The lesson API's requests (lessons.js fetches relative "api/…" URLs) go to the bridge. Only
 * string URLs starting with "api/" are routed; everything else (engine.wasm…) is the page's own.
 */
function routeAPI() {
  globalThis.fetch = (input, init) =>
    typeof input === "string" && input.startsWith("api/") ? bridgeFetch(input, init) : pageFetch(input, init);
}

/**
 * Chrome's permission for this site to reach programs on this computer: "loopback-network" since
 * Chrome 145, "local-network-access" before. "unknown" where the browser has neither (Firefox,
 * Safari: no such permission).
 * @returns {Promise<PermissionState | "unknown">}
 */
async function localNetworkPermission() {
  for (const name of ["loopback-network", "local-network-access"]) {
    try {
      return (await navigator.permissions.query(/** @type {PermissionDescriptor} */ ({ name: /** @type {PermissionName} */ (name) }))).state;
    } catch {
      // not a permission this browser knows
    }
  }
  return "unknown";
}

/**
 * Looks at what answers at url: the status a CORS read got (403: a wrong token), 1 for an answer
 * this page may not read (no-cors), 0 for none (nothing listens, or the browser blocked it).
 * @param {string} url
 * @param {RequestMode} mode
 */
async function probe(url, mode) {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), PROBE_MS);
  try {
    const resp = await pageFetch(url, toLoopback({ method: "HEAD", mode, credentials: "omit", cache: "no-store", signal: ctrl.signal }));
    return resp.type === "opaque" ? 1 : resp.status;
  } catch {
    return 0;
  } finally {
    clearTimeout(timer);
  }
}
