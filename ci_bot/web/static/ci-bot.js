/* ci-bot web UI: live pages without a framework.
 *
 * The server draws every page; this keeps it live. A pipeline or node page opens
 * one EventSource on /api/pipelines/ID/stream and applies each "pipeline" message
 * (the JSON of GET /api/pipelines/ID) to the page; a node page hands each "log"
 * message to its log view (log.js). Action forms are sent with fetch() to the JSON
 * API (with the session's CSRF token), so nothing reloads; the list refreshes its
 * unfinished pipelines every few seconds.
 */
"use strict";

(function () {
  const STATES = ["pending", "queued", "running", "done", "error", "worker_error", "cancelled", "skipped"];
  const ICONS = { pending: "·", queued: "◌", running: "▶", done: "✔", error: "✘", worker_error: "⚠", cancelled: "⊘", skipped: "↷" };
  const COUNTERS = { P: ["pending"], Q: ["queued"], R: ["running"], D: ["done"], E: ["error", "worker_error"], S: ["skipped", "cancelled"] };

  const body = document.body;
  const log = window.ciBotLog;
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  /* ---- small helpers ------------------------------------------------------------- */

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function setState(node, state) {
    STATES.forEach((s) => node.classList.remove("state-" + s));
    node.classList.add("state-" + state);
    node.dataset.state = state;
  }

  function formatDuration(seconds) {
    let rest = Math.max(0, Math.round(seconds));
    if (rest === 0) return "0s";
    let text = "";
    for (const [suffix, unit] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]]) {
      const count = Math.floor(rest / unit);
      rest -= count * unit;
      if (count) text += count + suffix;
    }
    return text;
  }

  function tickDurations() {
    document.querySelectorAll(".duration[data-start]").forEach((span) => {
      const start = span.dataset.start;
      if (!start) { span.textContent = ""; return; }
      const end = span.dataset.end ? Date.parse(span.dataset.end) : Date.now();
      span.textContent = formatDuration((end - Date.parse(start)) / 1000);
    });
  }

  function notify(message, isError) {
    const box = document.getElementById("notice");
    if (!box) return;
    box.textContent = message;
    box.classList.toggle("error", !!isError);
    box.hidden = false;
    clearTimeout(notify.timer);
    notify.timer = setTimeout(() => { box.hidden = true; }, isError ? 12000 : 5000);
  }

  function parentOf(path) {
    const cut = path.lastIndexOf("/");
    return cut <= 0 ? "/" : path.slice(0, cut);
  }

  /* ---- applying a pipeline snapshot ----------------------------------------------- */

  function spans(pipeline) {
    // [start, end] of every node: an Exec's latest execution; a parent's children overall
    const result = {};
    const kids = {};
    pipeline.nodes.forEach((n) => {
      if (n.path !== "/") (kids[parentOf(n.path)] = kids[parentOf(n.path)] || []).push(n.path);
    });
    pipeline.nodes.slice().reverse().forEach((n) => {
      if (n.type === "exec") {
        const last = (n.executions || [])[n.executions.length - 1];
        result[n.path] = last && last.started_at ? [last.started_at, last.ended_at || ""] : ["", ""];
        return;
      }
      const parts = (kids[n.path] || []).map((p) => result[p]).filter((s) => s && s[0]);
      if (!parts.length) { result[n.path] = ["", ""]; return; }
      const running = parts.some((s) => !s[1]);
      const start = parts.map((s) => s[0]).sort()[0];
      const end = running ? "" : parts.map((s) => s[1]).sort().reverse()[0];
      result[n.path] = [start, end];
    });
    return result;
  }

  function applyNode(item, node, span) {
    setState(item, node.state);
    const own = (selector) => item.querySelector(":scope > .row " + selector + ", :scope > details > summary " + selector);
    const icon = own(".icon");
    if (icon) icon.textContent = ICONS[node.state];
    const label = own(".state-label");
    if (label) label.textContent = node.state.replace("_", " ");
    const link = own(".name");
    if (link) link.setAttribute("aria-label", link.textContent + ": " + node.state.replace("_", " "));
    const duration = own(".duration");
    if (duration && span) { duration.dataset.start = span[0]; duration.dataset.end = span[1]; }
    const attempts = own(".attempts");
    if (attempts && node.executions) attempts.textContent = node.executions.length > 1 ? "×" + node.executions.length : "";
    const message = own(".message");
    if (message) {
      const failed = node.state === "error" || node.state === "worker_error";
      message.textContent = failed ? node.message || "" : node.state === "skipped" ? node.skip_reason || "" : "";
    }
  }

  function applyCounts(pipeline) {
    const execs = pipeline.nodes.filter((n) => n.type === "exec");
    document.querySelectorAll('[data-role="counts"] .count').forEach((count) => {
      const states = COUNTERS[count.dataset.letter] || [];
      const n = execs.filter((e) => states.includes(e.state)).length;
      count.querySelector(".n").textContent = n;
      count.classList.toggle("zero", n === 0);
    });
    return execs;
  }

  function applyBadge(badge, state) {
    if (!badge) return;
    setState(badge, state);
    badge.querySelector(".icon").textContent = ICONS[state];
    badge.querySelector(".label").textContent = state.replace("_", " ");
  }

  function applyPipeline(pipeline) {
    const times = spans(pipeline);
    pipeline.nodes.forEach((node) => {
      document.querySelectorAll('.node[data-path="' + CSS.escape(node.path) + '"]').forEach((item) => applyNode(item, node, times[node.path]));
    });
    const execs = applyCounts(pipeline);
    applyBadge(document.querySelector('[data-role="pipeline-state"]'), pipeline.state);
    const total = document.querySelector('[data-role="pipeline-duration"]');
    if (total) total.dataset.end = pipeline.finished_at || "";
    const failed = execs.some((e) => e.state === "error" || e.state === "worker_error");
    enable('[data-role="next-error"]', failed);
    enable('[data-role="action-rerun-failed"]', failed);
    enable('[data-role="action-cancel"]', !pipeline.finished_at);
    if (body.dataset.page === "node") applyNodePage(pipeline);
    tickDurations();
  }

  function enable(selector, on) {
    document.querySelectorAll(selector).forEach((button) => { button.disabled = !on; });
  }

  function applyNodePage(pipeline) {
    const node = pipeline.nodes.find((n) => n.path === body.dataset.node);
    if (!node) return;
    applyBadge(document.querySelector('[data-role="node-state"]'), node.state);
    const message = document.querySelector('[data-role="node-message"]');
    if (message) {
      const failed = node.state === "error" || node.state === "worker_error";
      message.textContent = failed ? node.message || "" : "";
      message.hidden = !(failed && node.message);
    }
    enable('[data-role="action-unskip"]', !!node.skip_reason);
    const skipped = document.querySelector('[data-role="skip-reason"]');
    if (skipped) {
      skipped.hidden = !node.skip_reason;
      skipped.querySelector("span").textContent = node.skip_reason || "";
    }
    if (node.executions) renderRuns(node.executions);
    const shown = (node.executions || []).find((run) => String(run.id) === document.getElementById("log").dataset.execution);
    const attempt = document.querySelector('[data-role="log-attempt"]');
    if (attempt && shown) attempt.textContent = "attempt " + shown.attempt;
  }

  function renderRuns(runs) {
    const list = document.querySelector('[data-role="executions"]');
    if (!list) return;
    const shown = document.getElementById("log").dataset.execution;
    list.replaceChildren();
    runs.slice().reverse().forEach((run) => {
      const item = el("li", "run state-" + run.state + (String(run.id) === shown ? " shown" : ""));
      item.dataset.id = run.id;
      const link = el("a");
      link.href = "?execution=" + run.id;
      link.append(el("span", "icon", ICONS[run.state]), " Attempt " + run.attempt + " · ", el("span", "state-label", run.state.replace("_", " ")));
      link.querySelector(".icon").setAttribute("aria-hidden", "true");
      const meta = el("div", "run-meta");
      if (run.exit_code !== null) meta.append("exit " + run.exit_code + " · ");
      if (run.started_at) meta.append(el("time", "", run.started_at.slice(11, 19)), " ");
      const duration = el("span", "duration");
      duration.dataset.start = run.started_at || "";
      duration.dataset.end = run.ended_at || "";
      meta.append(duration);
      item.append(link, meta);
      if (run.command_change) item.append(commandChange(run.command_change));
      if (run.message) item.append(el("div", "run-message", run.message));
      list.append(item);
    });
    if (!runs.length) list.append(el("li", "muted", "None yet."));
  }

  function commandChange(change) {
    // the same words as node.html: who changed the command this execution ran, from what
    const box = el("div", "run-change", "Command changed" + (change.by ? " by " + change.by : "") + ": ");
    box.dataset.role = "command-change";
    box.append(el("code", "", change.old), " → ", el("code", "", change.new));
    return box;
  }

  /* ---- the list: unfinished pipelines refresh themselves --------------------------- */

  function applyListRow(row, pipeline) {
    row.dataset.state = pipeline.state;
    applyBadge(row.querySelector('[data-role="state"]'), pipeline.state);
    const duration = row.querySelector(".duration");
    if (duration) duration.dataset.end = pipeline.finished_at || "";
    row.querySelectorAll(".count").forEach((count) => {
      const n = (COUNTERS[count.dataset.letter] || []).reduce((sum, s) => sum + (pipeline.exec_counts[s] || 0), 0);
      count.querySelector(".n").textContent = n;
      count.classList.toggle("zero", n === 0);
    });
  }

  function followList() {
    const table = document.querySelector('[data-role="pipeline-list"]');
    if (!table) return;
    setInterval(async () => {
      const busy = ["pending", "queued", "running"].map((s) => 'tr[data-state="' + s + '"]').join(",");
      if (document.hidden || !table.querySelector(busy)) return;
      const response = await fetch("/api/pipelines" + location.search, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      (await response.json()).pipelines.forEach((pipeline) => {
        const row = table.querySelector('tr[data-id="' + pipeline.id + '"]');
        if (row) applyListRow(row, pipeline);
      });
    }, 3000);
  }

  /* ---- the live stream -------------------------------------------------------------- */

  function connect() {
    const url = body.dataset.stream;
    if (!url || !window.EventSource) return;
    const params = new URLSearchParams();
    if (body.dataset.page === "node") {
      params.set("node", body.dataset.node);
      params.set("from", log.position());
    }
    const source = new EventSource(url + (params.toString() ? "?" + params : ""));
    source.addEventListener("pipeline", (event) => applyPipeline(JSON.parse(event.data)));
    source.addEventListener("log", (event) => log.onMessage(JSON.parse(event.data)));
    source.addEventListener("open", () => { body.dataset.live = "true"; log.status("live"); });
    source.addEventListener("error", () => { body.dataset.live = "false"; log.status("reconnecting…"); });
    window.ciBotStream = source;
    // leaving the page closes the stream at once, so the server frees its slot
    window.addEventListener("pagehide", () => source.close());
  }

  /* ---- actions ------------------------------------------------------------------------- */

  async function submitAction(event) {
    const form = event.target.closest("form.action-form");
    if (!form) return;
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    const url = "/api/pipelines/" + form.dataset.pipeline + "/" + form.dataset.action;
    const wish = { path: form.elements.path.value };
    if (form.elements.run) wish.run = form.elements.run.value;  // "Edit command and reset"
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf() },
        body: JSON.stringify(wish),
      });
      const answer = await response.json().catch(() => ({ error: "HTTP " + response.status }));
      notify(response.ok ? answer.message : answer.error, !response.ok);
      if (response.ok && answer.run !== undefined) showCommand(form, answer.run);
    } catch (error) {
      notify("ci-bot could not be reached: " + error, true);
    } finally {
      button.disabled = false;
    }
  }

  function showCommand(form, run) {
    const shown = document.querySelector('[data-role="command"]');
    if (shown) shown.textContent = run;
    const editor = form.closest("details");
    if (editor) editor.open = false;
  }

  async function copyText(event) {
    const button = event.currentTarget;
    try {
      await navigator.clipboard.writeText(button.dataset.copy);
      notify("Copied: " + button.dataset.copy);
    } catch (error) {
      // no clipboard (plain http, or refused): select the text for the person to copy
      const code = button.parentElement.querySelector("code");
      if (code) window.getSelection().selectAllChildren(code);
      notify("Press Ctrl+C to copy the selected command.");
    }
  }

  /* ---- the tree: next error, expand and collapse ------------------------------------- */

  let errorIndex = -1;

  function nextError() {
    const failed = Array.from(document.querySelectorAll('.tree .node[data-type="exec"]')).filter(
      (n) => n.dataset.state === "error" || n.dataset.state === "worker_error");
    if (!failed.length) { notify("No node has failed."); return; }
    errorIndex = (errorIndex + 1) % failed.length;
    const target = failed[errorIndex];
    document.querySelectorAll(".node.highlight").forEach((n) => n.classList.remove("highlight"));
    for (let up = target.parentElement; up; up = up.parentElement) {
      if (up.tagName === "DETAILS") up.open = true;
    }
    target.classList.add("highlight");
    target.scrollIntoView({ block: "center" });
    target.querySelector(".name").focus();
  }

  function setAllOpen(open) {
    document.querySelectorAll(".tree details").forEach((d) => { d.open = open; });
  }

  /* ---- start ----------------------------------------------------------------------------- */

  document.addEventListener("DOMContentLoaded", async () => {
    document.addEventListener("submit", submitAction);
    const on = (role, handler) => document.querySelectorAll('[data-role="' + role + '"]').forEach((b) => b.addEventListener("click", handler));
    on("next-error", nextError);
    on("copy", copyText);
    on("expand-all", () => setAllOpen(true));
    on("collapse-all", () => setAllOpen(false));
    document.addEventListener("keydown", (event) => {
      const typing = /INPUT|TEXTAREA|SELECT/.test((event.target || {}).tagName || "");
      if (event.key === "e" && !typing && !event.ctrlKey && !event.metaKey && document.querySelector(".tree")) nextError();
    });
    tickDurations();
    setInterval(tickDurations, 1000);
    if (body.dataset.page === "node") await log.init();
    connect();
    followList();
  });
})();
