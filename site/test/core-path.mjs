// The page's core path in a browser other than Chromium, driven by bridge's
// TestBrowserFirefox… and TestBrowserWebKit… tests (go test ./bridge):
// page ready, Run, a real TCP client's echo, the trace, Step, a lesson check;
// with each runner in --runners (host, the default, then page), each in a
// fresh page with storage of its own.
//
//   node test/core-path.mjs --browser firefox --url URL --port PORT --profile DIR [--firefox PATH] [--runners host,page]
//   node test/core-path.mjs --browser webkit --url URL --port PORT --webdriver http://127.0.0.1:P --minibrowser PATH
//
// Firefox is driven over WebDriver BiDi with puppeteer-core; WebKitGTK over
// classic WebDriver (WebKitWebDriver, which the Go test starts on a virtual
// display), with plain HTTP calls. The steps are the same for both. A failure
// names its step and exits 1. The script prints "browser pid N" once the
// browser it launched runs, so that the Go test can make sure it has ended.

import net from "node:net";
import { parseArgs } from "node:util";

const { values: opt } = parseArgs({
  options: {
    browser: { type: "string" },
    url: { type: "string" },
    port: { type: "string" },
    profile: { type: "string" },
    firefox: { type: "string", default: "/usr/bin/firefox-esr" },
    webdriver: { type: "string" },
    minibrowser: { type: "string" },
    runners: { type: "string", default: "host,page" },
  },
});
for (const need of ["browser", "url", "port"]) {
  if (!opt[need]) fail("arguments", `--${need} is missing`);
}

/** @param {string} step @param {string} message */
function fail(step, message) {
  console.error(`FAIL at step "${step}": ${message}`);
  process.exit(1);
}

/** @param {string} id */
const testID = (id) => `[data-testid="${id}"]`;

// ---- Two drivers with the same few operations.

/**
 * @typedef {object} Browser
 * @property {() => Promise<Driver>} open a fresh page, with storage of its own
 * @property {() => Promise<void>} close
 */

/**
 * @typedef {object} Driver
 * @property {(url: string) => Promise<void>} goto
 * @property {(expr: string) => Promise<any>} eval an expression's value (a promise's, awaited)
 * @property {(selector: string) => Promise<void>} click a real click, at the element's middle
 * @property {(key: string) => Promise<void>} press "F5" or "F9", as a person presses it
 * @property {() => string} log what the page said on its console, if the driver can hear it
 * @property {() => Promise<void>} close the page
 */

/** @returns {Promise<Browser>} */
async function firefox() {
  const { default: puppeteer } = await import("puppeteer-core");
  const browser = await puppeteer.launch({
    browser: "firefox",
    protocol: "webDriverBiDi",
    executablePath: opt.firefox,
    headless: true,
    userDataDir: opt.profile,
  });
  console.log(`browser pid ${browser.process()?.pid}`);
  return {
    open: async () => {
      const context = await browser.createBrowserContext(); // storage of its own
      const page = await context.newPage();
      /** @type {string[]} */
      const lines = [];
      page.on("console", (m) => lines.push(`console.${m.type()}: ${m.text()}`));
      page.on("pageerror", (e) => lines.push(`exception: ${e}`));
      page.on("dialog", (d) => d.accept()); // Reset and Solution ask confirm(): yes, as a learner who means it
      return {
        goto: async (url) => { await page.goto(url); },
        eval: (expr) => page.evaluate(expr),
        click: (selector) => page.click(selector),
        press: (key) => page.keyboard.press(/** @type {any} */ (key)),
        log: () => lines.join("\n"),
        close: () => context.close(),
      };
    },
    close: () => browser.close(),
  };
}

/** Each page is a session of its own: a MiniBrowser with an ephemeral profile. @returns {Promise<Browser>} */
async function webkit() {
  const base = opt.webdriver;
  if (!base || !opt.minibrowser) fail("arguments", "--webdriver or --minibrowser is missing");
  /** @param {string} method @param {string} path @param {any} [body] */
  async function call(method, path, body) {
    const res = await fetch(base + path, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`WebDriver ${method} ${path}: ${json.value?.error}: ${json.value?.message}`);
    return json.value;
  }
  const open = async () => {
    const session = await call("POST", "/session", {
      capabilities: {
        alwaysMatch: {
          // confirm() (Reset, Solution): yes, as a learner who means it.
          unhandledPromptBehavior: "accept",
          "webkitgtk:browserOptions": {
            binary: opt.minibrowser,
            args: ["--automation"],
          },
        },
      },
    });
    const s = `/session/${session.sessionId}`;
    const elementKey = "element-6066-11e4-a52e-4f735466cecf";
    /** @type {Record<string, string>} */
    const keys = { F5: "\uE035", F9: "\uE039" };
    return {
      goto: async (url) => { await call("POST", s + "/url", { url }); },
      eval: (expr) => call("POST", s + "/execute/async", {
        script: `const done = arguments[0]; Promise.resolve(${expr}).then(done, e => done({__error: String(e)}))`,
        args: [],
      }).then((v) => {
        if (v && typeof v === "object" && "__error" in v) throw new Error(v.__error);
        return v;
      }),
      click: async (selector) => {
        try {
          const el = await call("POST", s + "/element", { using: "css selector", value: selector });
          await call("POST", `${s}/element/${el[elementKey]}/click`, {});
        } catch (e) {
          throw new Error(`click ${selector}: ${e instanceof Error ? e.message : e}`);
        }
      },
      press: async (key) => {
        const value = keys[key];
        await call("POST", s + "/actions", {
          actions: [{ type: "key", id: "keyboard", actions: [{ type: "keyDown", value }, { type: "keyUp", value }] }],
        });
        await call("DELETE", s + "/actions");
      },
      log: () => "",
      close: async () => { await call("DELETE", s); },
    };
  };
  return { open, close: async () => {} };
}

// ---- The core path.

const t0 = Date.now();
/** @type {Browser | undefined} */
let browser;
/** @type {Driver | undefined} */
let page;
let current = "launch the browser";
let prefix = ""; // the runner the steps are taken with

/** Runs one step; a failure names it, with the page's state and console. @param {string} name @param {() => Promise<void>} fn */
async function step(name, fn) {
  current = prefix + name;
  const start = Date.now();
  await fn();
  console.log(`ok ${current} (${Date.now() - start} ms)`);
}

/** Polls a JavaScript expression until it is true. @param {string} what @param {string} expr */
async function waitFor(what, expr, timeout = 30000) {
  const deadline = Date.now() + timeout;
  let last = "";
  for (;;) {
    try {
      if (await page?.eval(expr)) return;
    } catch (e) {
      last = ` (last error: ${e})`;
    }
    if (Date.now() > deadline) throw new Error(`waiting ${timeout / 1000}s for ${what}${last}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** @param {string} want */
const waitStatus = (want, timeout = 30000) => waitFor(`status ${want}`, `document.querySelector('${testID("status")}')?.textContent.trim() === ${JSON.stringify(want)}`, timeout);

/** A real TCP client: connects (retrying while the server starts) and checks each line comes back. @param {string[]} lines */
async function echo(lines) {
  const deadline = Date.now() + 15000;
  /** @type {net.Socket} */
  let sock;
  for (;;) {
    try {
      sock = await new Promise((resolve, reject) => {
        const c = net.connect(Number(opt.port), "127.0.0.1", () => resolve(c));
        c.once("error", reject);
      });
      break;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`connect to 127.0.0.1:${opt.port}: ${e}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    await talk(sock, lines);
  } finally {
    sock.destroy();
  }
}

/** Sends each line on sock and waits for it to come back. @param {net.Socket} sock @param {string[]} lines */
async function talk(sock, lines) {
  let got = "";
  for (const line of lines) {
    sock.write(line + "\n");
    got = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no echo of ${JSON.stringify(line)} within 10s; got ${JSON.stringify(got)}`)), 10000);
      const onData = (/** @type {Buffer} */ b) => {
        got += b.toString();
        if (got.includes("\n")) {
          clearTimeout(timer);
          sock.off("data", onData);
          resolve(got);
        }
      };
      sock.on("data", onData);
    });
    if (got !== line + "\n") throw new Error(`echo: got ${JSON.stringify(got)}, want ${JSON.stringify(line + "\n")}`);
    got = "";
  }
}

const pageState = `["status", "output", "trace", "check-result"].map(id => id + ": " +
  ([...document.querySelectorAll('[data-testid="' + id + '"]')].map(e => (e.dataset.ok ? "ok=" + e.dataset.ok + " " : "") + (e.innerText || e.textContent)).join("\\n") || "(none)")).join("\\n")`;

/** The core path with runner, in page p. @param {Driver} p @param {string} runner */
async function corePath(p, runner) {
  await step("page ready", async () => {
    await p.goto(/** @type {string} */ (opt.url));
    await waitStatus("ready", 60000); // the first load, on a busy machine, is the slowest wait
    const runner = await p.eval(`document.querySelector('${testID("runner")}').value`);
    const chosen = await p.eval(`document.querySelector('${testID("runner")}').value`);
    if (chosen !== "host") throw new Error(`the runner is ${chosen}; want host, the default`);
    if (runner !== "host") { // engine.wasm in the page, chosen with the page's own select
      await p.eval(`(() => { const s = document.querySelector('${testID("runner")}'); s.value = ${JSON.stringify(runner)}; s.dispatchEvent(new Event("change", {bubbles: true})); return true })()`);
      await waitStatus("ready", 60000);
    }
  });

  let accept = 0;
  await step("editor opens the echo server", async () => {
    await waitFor("the echo server in the editor", `window.sockstep.view.state.doc.toString().includes("syscall.Accept(fd)")`);
    const src = String(await p.eval(`window.sockstep.view.state.doc.toString()`)).replaceAll("9000", String(opt.port));
    await p.eval(`(() => { const v = window.sockstep.view; v.dispatch({changes: {from: 0, to: v.state.doc.length, insert: ${JSON.stringify(src)}}}); return true })()`);
    accept = src.split("\n").findIndex((l) => l.includes("syscall.Accept(fd)")) + 1;
  });

  await step("Run", async () => {
    await p.click(testID("run"));
    await waitStatus("running");
  });

  await step("a real client's echo", () => echo(["hello", "second line"]));

  await step("the trace shows the calls", async () => {
    await waitFor("socket, bind, accept, read and write in the trace", `(() => {
      const lines = [...document.querySelector('${testID("trace")}').children].map(e => e.textContent);
      return lines.some(l => l.startsWith("socket(AF_INET, SOCK_STREAM, 0) = 3")) &&
        lines.some(l => l.startsWith("bind(3, 127.0.0.1:${opt.port}) = 0")) &&
        lines.some(l => /^accept\\(3\\) = 4 \\(peer 127\\.0\\.0\\.1:\\d+\\)/.test(l)) &&
        lines.some(l => l.startsWith('read(4, 1024) = 6 "hello\\\\n"')) &&
        lines.some(l => l.startsWith('write(4, "hello\\\\n") = 6'));
    })()`);
    await waitFor("the program's output", `document.querySelector('${testID("output")}').textContent.includes("listening on")`);
  });

  await step("Stop", async () => {
    await p.click(testID("stop"));
    await waitStatus("stopped");
  });

  await step("Step through accept", async () => {
    const currentLine = `document.querySelector('${testID("current-line")}')?.dataset.line`;
    await p.eval(`(() => { const v = window.sockstep.view; v.dispatch({selection: {anchor: v.state.doc.line(${accept}).from + 3}}); v.focus(); return true })()`);
    await p.press("F9");
    await waitFor("a breakpoint marker after F9", `document.querySelectorAll('.cm-breakpoint').length === 1`);
    await p.press("F5");
    await waitStatus("paused");
    await waitFor(`the accept line (${accept}) highlighted`, `${currentLine} === "${accept}"`);
    /** @type {net.Socket} */
    const client = await new Promise((resolve, reject) => {
      const c = net.connect(Number(opt.port), "127.0.0.1", () => resolve(c));
      c.once("error", reject);
    });
    try {
      await p.click(testID("step"));
      await waitFor(`the line after accept (${accept + 1})`, `${currentLine} === "${accept + 1}"`);
      await waitStatus("paused");
      const vars = String(await p.eval(`document.querySelector('${testID("variables")}').innerText`));
      if (!vars.includes("conn = 4")) throw new Error(`the variables view lacks conn = 4:\n${vars}`);
      await p.press("F9");
      await waitFor("the breakpoint removed", `document.querySelectorAll('.cm-breakpoint').length === 0`);
      await p.click(testID("continue"));
      await waitStatus("running");
      await talk(client, ["after stepping"]);
    } finally {
      client.destroy();
    }
    await p.click(testID("stop"));
    await waitStatus("stopped");
  });

  await step("a lesson check passes with the solution", async () => {
    const url = new URL(/** @type {string} */ (opt.url));
    const token = url.searchParams.get("token");
    /** @param {string} path */
    const get = async (path) => {
      const res = await fetch(`${url.origin}${path}?token=${token}`);
      if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${(await res.text()).trim()}`);
      return res.json();
    };
    const lessons = await get("/api/lessons");
    const lesson = lessons.find((/** @type {{number: number}} */ l) => l.number === 2);
    if (!lesson) throw new Error("GET /api/lessons lists no lesson 2");
    const { solution } = await get(`/api/lessons/${lesson.id}/solution`);
    const entry = `${testID("lessons")} [data-lesson="${lesson.id}"]`;
    await waitFor("the lesson list", `document.querySelector('${entry}')?.dataset.passed === "false"`);
    await p.click(entry);
    await waitFor("the lesson's starter in the editor", `window.sockstep.view.state.doc.toString() === ${JSON.stringify(lesson.starter)}`);
    await p.click(testID("solution"));
    await waitFor("the solution in the editor (after confirm)", `window.sockstep.view.state.doc.toString() === ${JSON.stringify(solution)}`);
    await p.click(testID("check"));
    await waitFor("every checklist step passed", `(() => {
      const rows = [...document.querySelectorAll('${testID("check-result")}')];
      return !document.querySelector('${testID("check")}').disabled && rows.length > 0 &&
        rows.every(r => r.dataset.ok === "true") && document.querySelector('${entry}').dataset.passed === "true";
    })()`, 60000);
  });
}

try {
  browser = opt.browser === "firefox" ? await firefox() : opt.browser === "webkit" ? await webkit() : fail("arguments", `no browser ${opt.browser}`);
  console.log(`ok launch ${opt.browser} (${Date.now() - t0} ms)`);
  for (const runner of String(opt.runners).split(",")) {
    const start = Date.now();
    current = `open a page for the ${runner} runner`;
    page = await /** @type {Browser} */ (browser).open();
    prefix = `${runner} runner: `;
    await corePath(page, runner);
    prefix = "";
    current = `close the ${runner} runner's page`;
    await page.close();
    page = undefined;
    console.log(`ok the core path with the ${runner} runner (${Date.now() - start} ms)`);
  }
} catch (e) {
  let state = "";
  try {
    state = String(await page?.eval(pageState));
  } catch (e2) {
    state = `page state unavailable: ${e2}`;
  }
  const log = page?.log() ?? "";
  console.error(`FAIL at step "${current}" in ${opt.browser}: ${e instanceof Error ? e.message : e}\n${state}${log ? "\nbrowser console:\n" + log : ""}`);
  process.exitCode = 1;
} finally {
  await page?.close().catch((e) => console.error(`close the page: ${e}`));
  await browser?.close().catch((e) => console.error(`close the browser: ${e}`));
  console.log(`total ${Date.now() - t0} ms`);
}
