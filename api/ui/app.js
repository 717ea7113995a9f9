// Polls /api/v1/status and renders it. Read-only. With auth on, an admin token (kept in this
// browser's localStorage) is sent as a Bearer token.
"use strict";

const POLL_MS = 1000;
const TOKEN_KEY = "hth-admin-token";

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function when(stamp) {
  return stamp ? stamp.slice(0, 19).replace("T", " ") : "–";
}

function stateBadge(state) {
  return el("span", state, "state state-" + state);
}

function progressCell(task) {
  const cell = el("td");
  const p = task.progress;
  if (!p) return cell;
  const bar = el("progress");
  if (p.total) {
    bar.max = p.total;
    bar.value = p.done;
  }
  cell.append(bar, " " + p.phase + " " + p.done + "/" + (p.total ?? "?"));
  return cell;
}

function row(cells) {
  const tr = el("tr");
  for (const cell of cells) {
    if (cell instanceof HTMLElement && cell.tagName === "TD") tr.append(cell);
    else {
      const td = el("td");
      td.append(cell instanceof Node ? cell : el("span", cell));
      tr.append(td);
    }
  }
  return tr;
}

function fill(tableId, rows, empty) {
  const body = document.querySelector("#" + tableId + " tbody");
  body.replaceChildren(...rows);
  if (rows.length === 0) {
    const td = el("td", empty, "empty");
    td.colSpan = 6;
    body.append(el("tr")).append(td);
  }
}

function lastRun(last) {
  if (!last || !last.task) return "never run";
  const task = last.task;
  const text = task.state + " " + when(task.finished_at || task.started_at || task.created_at);
  return text + (last.last_success_at ? "; last success " + when(last.last_success_at) : "");
}

function render(status) {
  fill("instances", status.instances.map((i) => row([
    i.id, i.address, i.live ? "yes" : "no", stateBadge(i.live ? i.state : "dead"),
    i.inflight_writes, when(i.heartbeat_at),
  ])), "no registry instance has registered");
  const lease = status.storage_lease;
  document.getElementById("lease").textContent =
    lease ? lease.mode + " by " + lease.holder + " until " + when(lease.expires_at) : "free";
  const workers = status.workers;
  document.getElementById("worker-count").textContent = String(workers.names.length);
  document.getElementById("workers").replaceChildren(
    ...workers.names.map((name) => el("li", name)),
    ...(workers.error ? [el("li", "cannot ask: " + workers.error)] : []),
  );
  document.getElementById("queue-depth").textContent = String(status.queue_depth);
  document.getElementById("last-gc").textContent = lastRun(status.last.gc);
  document.getElementById("last-backup").textContent = lastRun(status.last.backup);
  fill("running", status.running.map((t) => row([
    t.id, t.kind, stateBadge(t.state), progressCell(t), t.worker || "–", when(t.started_at),
  ])), "no task is running");
  fill("recent", status.recent.map((t) => row([
    t.id, t.kind, stateBadge(t.state), progressCell(t), when(t.created_at), when(t.finished_at),
  ])), "no task yet");
}

function showError(text) {
  const box = document.getElementById("error");
  box.textContent = text;
  box.hidden = !text;
}

async function poll() {
  const headers = { Accept: "application/json" };
  const token = localStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  try {
    const response = await fetch("/api/v1/status", { headers, cache: "no-store" });
    if (response.status === 401 || response.status === 403) {
      document.getElementById("token-form").hidden = false;
      showError(response.status === 403
        ? "This token's user is not an admin: enter an admin's personal access token."
        : "This registry has authentication on: enter an admin's personal access token " +
          "(hth_..., from `hth-ctl login` or /api/v1/tokens; registry tokens are not accepted).");
      return;
    }
    if (!response.ok) {
      showError("GET /api/v1/status: " + response.status + " " + (await response.text()));
      return;
    }
    render(await response.json());
    showError("");
    document.getElementById("updated").textContent = "updated " + new Date().toISOString().slice(11, 19) + " UTC";
  } catch (err) {
    showError("cannot reach the API: " + err);
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = document.getElementById("token").value.trim();
  if (!token.startsWith("hth_")) {
    showError("An admin's personal access token starts with hth_ (registry tokens are not accepted).");
    return;
  }
  localStorage.setItem(TOKEN_KEY, token);
  document.getElementById("token-form").hidden = true;
});

poll();
