// Where the bridge is: the page's own host, with the token the page was
// opened with (the bridge also accepts its cookie).

/**
 * Takes the token out of the address bar — keeping it out of bookmarks and screenshots; the
 * cookie keeps working — and returns a maker of the bridge's WebSocket addresses.
 * @returns {(path: string) => string}  path "/engine" → ws(s)://host/engine?token=…
 */
export function bridgeAddress() {
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  if (token !== null) {
    params.delete("token");
    const query = params.toString();
    history.replaceState(history.state, "", location.pathname + (query ? `?${query}` : "") + location.hash);
  }
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return (path) => `${scheme}://${location.host}${path}` + (token ? `?token=${encodeURIComponent(token)}` : "");
}
