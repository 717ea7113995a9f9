// Polls /api/v1/status every second and renders it. Read-only. Text from the API is only
// ever set as textContent (never parsed as HTML). With auth on, an admin's personal access
// token, kept in this browser's localStorage, is sent as a Bearer token.
"use strict";

const POLL_MS = 1000;
const TOKEN_KEY = "hth-admin-token";
const STATUS_URL = "/api/v1/status";

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function when(stamp) {
  return stamp ? String(stamp).slice(0, 19).replace("T", " ") : "–";
}

function badge(state) {
  return el("span", state, "state state-" + state);
}

// A cell of `row`: a <td> as it is, a node or a text wrapped in one.
function cell(content) {
  if (content instanceof HTMLTableCellElement) return content;
  const td = el("td");
  td.append(content instanceof Node ? content : String(content ?? "–"));
  return td;
}

function row(cells) {
  const tr = el("tr");
  tr.append(...cells.map(cell));
  return tr;
}

// Puts the rows in the table's body, or one row saying why there are none.
function fill(tableId, rows, emptyText) {
  const table = document.getElementById(tableId);
  if (rows.length === 0) {
    const td = el("td", emptyText, "empty");
    td.colSpan = table.tHead.rows[0].cells.length;
    rows = [row([td])];
  }
  table.tBodies[0].replaceChildren(...rows);
}

function progressCell(task) {
  const td = el("td");
  const p = task.progress;
  if (p) {
    const bar = el("progress");
    if (p.total) {
      bar.max = p.total;
      bar.value = p.done;
    }
    td.append(bar, " " + p.phase + " " + p.done + "/" + (p.total ?? "?") + (p.note ? " (" + p.note + ")" : ""));
  }
  if (task.error) td.append(el("div", task.error, "task-error"));
  return td;
}

// "2", with each worker process's pid and state in the tooltip ("–" from older servers).
function processesCell(instance) {
  if (typeof instance.processes !== "number") return el("td", "–");
  const td = el("td", instance.processes);
  td.title = (instance.process_detail || [])
    .map((p) => "pid " + p.pid + ": " + (p.live ? p.state : "dead")).join("\n");
  return td;
}

function instanceRow(i) {
  const state = el("td");
  state.append(badge(i.live ? i.state : "dead"));
  if (i.detail) state.append(el("span", " " + i.detail, "note"));
  return row([
    i.id, i.address, i.live ? "yes" : "no", state, processesCell(i), i.inflight_writes,
    when(i.heartbeat_at),
  ]);
}

function lastRun(last) {
  if (!last || !last.task) return "never run";
  const task = last.task;
  const text = task.state + " " + when(task.finished_at || task.started_at || task.created_at);
  return text + (last.last_success_at ? "; last success " + when(last.last_success_at) : "");
}

function gcRunText(run) {
  if (!run) return "never run";
  const state = run.finished_at ? "ended " + when(run.finished_at) : "running";
  return "run " + run.run + ": " + state + ", phase " + run.phase + ", " +
    run.kept_by_writes + " kept because writes used them";
}

function setText(id, text) {
  document.getElementById(id).textContent = String(text);
}

function render(status) {
  fill("instances", status.instances.map(instanceRow), "no registry instance has registered");
  const lease = status.storage_lease;
  setText("lease", lease ? lease.mode + " by " + lease.holder + " until " + when(lease.expires_at) : "free");
  setText("gc-run", gcRunText(status.gc_run));
  const workers = status.workers;
  setText("worker-count", workers.error ? "?" : workers.names.length);
  const items = workers.names.map((name) => el("li", name));
  if (workers.error) items.push(el("li", "cannot ask the workers: " + workers.error, "task-error"));
  else if (items.length === 0) items.push(el("li", "no worker answers", "empty"));
  document.getElementById("workers").replaceChildren(...items);
  setText("queue-depth", status.queue_depth);
  const last = status.last || {};
  setText("last-gc", lastRun(last.gc));
  setText("last-backup", lastRun(last.backup));
  fill("running", status.running.map((t) => row([
    t.id, t.kind, badge(t.state), progressCell(t), t.worker || "–", when(t.started_at),
  ])), "no task is running");
  fill("recent", status.recent.map((t) => row([
    t.id, t.kind, badge(t.state), progressCell(t), when(t.created_at), when(t.finished_at),
  ])), "no task yet");
  renderUsage(status.usage);
}

// 1536 -> "1.5 KiB": sizes as an operator reads them.
function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  for (; n >= 1024 && i < units.length - 1; i++) n /= 1024;
  return (i === 0 ? String(n) : n.toFixed(1)) + " " + units[i];
}

function renderUsage(usage) {
  setText("usage-summary", usage
    ? "total " + bytes(usage.total_bytes) + ", a GC would free " + bytes(usage.gc_would_free_bytes) +
      " (computed " + when(usage.computed_at) + ")"
    : "not computed yet: run `hth-ctl usage --refresh`");
  fill("usage", (usage ? usage.items : []).map((r) => row([
    r.repository, bytes(r.size_bytes), bytes(r.unique_bytes), r.manifests, r.tags,
    when(r.last_push_at),
  ])), "no repository");
}

// The message of an error answer: FastAPI's {"detail": ...}, else the start of the body.
function apiMessage(body) {
  const detail = body && typeof body === "object" ? body.detail : undefined;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((issue) => issue.msg).join("; ");
  return String(typeof body === "object" ? JSON.stringify(body) : body).slice(0, 300);
}

const AUTH_HINTS = {
  401: "This registry has authentication on: paste an admin's personal access token (hth_...) " +
    "in the box above. `hth-ctl tokens create ui` prints a new one (run `hth-ctl login` first); " +
    "registry tokens from `docker login` are not accepted.",
  403: "This token's user is not an admin: paste an admin's personal access token (hth_...).",
};

function setNotice(id, text) {
  const box = document.getElementById(id);
  box.textContent = text || "";
  box.hidden = !text;
}

// The error line (what went wrong) and the hint under it (what to do about it).
function showProblem(error, hint) {
  setNotice("error", error);
  setNotice("hint", hint);
}

function showApiError(response, body) {
  const status = response.status + (response.statusText ? " " + response.statusText : "");
  const hint = AUTH_HINTS[response.status];
  document.getElementById("token-form").hidden = !hint;
  showProblem("GET " + STATUS_URL + ": " + status + ": " + apiMessage(body), hint);
}

// The answer and its body (JSON when it parses, else text); null when no answer came.
async function fetchStatus() {
  const headers = { Accept: "application/json" };
  const token = localStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  try {
    // credentials "omit": the token is sent explicitly, and a 401's Basic challenge must not
    // open the browser's password dialog.
    const response = await fetch(STATUS_URL, { headers, cache: "no-store", credentials: "omit" });
    const text = await response.text();
    let body = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON (a proxy's error page, ...): shown as text
    }
    return { response, body };
  } catch (err) {
    // fetch fails only when no answer came (server down, network): report it, retry.
    showProblem("cannot reach the API (" + err.message + "); retrying every second", "");
    return null;
  }
}

async function refresh() {
  const answer = await fetchStatus();
  if (!answer) return;
  const { response, body } = answer;
  if (!response.ok || typeof body !== "object" || body === null) {
    showApiError(response, body);
    return;
  }
  render(body);
  document.getElementById("token-form").hidden = true;
  showProblem("", "");
  setText("updated", "updated " + new Date().toISOString().slice(11, 19) + " UTC");
}

// One loop: a refresh asked for while one is under way (a new token) runs right after it.
let timer = 0;
let busy = false;
let again = false;

async function poll() {
  if (busy) {
    again = true;
    return;
  }
  busy = true;
  clearTimeout(timer);
  try {
    await refresh();
  } finally {
    busy = false;
    timer = setTimeout(poll, again ? 0 : POLL_MS);
    again = false;
  }
}

document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = document.getElementById("token").value.trim();
  if (!token.startsWith("hth_")) {
    setNotice("hint", "An admin's personal access token starts with hth_ (registry tokens are not accepted).");
    return;
  }
  localStorage.setItem(TOKEN_KEY, token);
  document.getElementById("token").value = "";
  poll();
});

poll();
