// Requests to an engine, and the answers that settle them. Both engines
// carry an answer among their events (engine.d.ts: AnswerEvent), after the
// events its request caused, so a request settles once the page has seen
// what it did.

/** @typedef {import("./engine").EngineEvent} EngineEvent */
/** @typedef {import("./engine").Method} Method */
/** @typedef {import("./engine").Methods} Methods */
/** @typedef {import("./engine").Request} Request */

/**
 * @param {(request: Request) => void} send  hands a request to the engine; throws when it cannot
 */
export function createRequests(send) {
  let lastID = 0;
  /** Requests sent and not answered yet, by id. */
  const waiting = /** @type {Map<number, {resolve: (value: any) => void, reject: (err: Error) => void}>} */ (new Map());

  return {
    /**
     * Sends a request; settles with its answer.
     * @template {Method} M
     * @param {M} method
     * @param {Methods[M]["args"]} args
     * @returns {Promise<Methods[M]["answer"]>}
     */
    request(method, args) {
      const id = ++lastID;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        try {
          send(/** @type {Request} */ ({ ...args, id, method }));
        } catch (err) {
          waiting.delete(id);
          reject(err);
        }
      });
    },

    /**
     * Settles the requests the answers among events answer; returns the other events, in order.
     * The promises' callbacks run after the caller has handled those events.
     * @param {EngineEvent[]} events
     */
    take(events) {
      if (!events.some((ev) => ev.type === "answer")) return events;
      const rest = [];
      for (const ev of events) {
        if (ev.type !== "answer") {
          rest.push(ev);
          continue;
        }
        const req = waiting.get(ev.id);
        waiting.delete(ev.id);
        if (ev.error !== undefined) req?.reject(new Error(ev.error));
        else req?.resolve(ev.value);
      }
      return rest;
    },

    /** The engine is gone: every request still waiting fails with why. */
    failAll(/** @type {string} */ why) {
      for (const req of waiting.values()) req.reject(new Error(why));
      waiting.clear();
    },
  };
}

/**
 * A batch of events as the engine sent it (a JSON array); an unreadable one is reported rather
 * than lost silently.
 * @param {string} json
 * @returns {EngineEvent[]}
 */
export function parseEvents(json) {
  try {
    const events = JSON.parse(json);
    if (Array.isArray(events)) return events;
  } catch {
    // reported below
  }
  return [{ type: "output", stream: "stderr", text: `engine sent unreadable events: ${json.slice(0, 200)}\n` }];
}
