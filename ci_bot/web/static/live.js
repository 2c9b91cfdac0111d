/* ci-bot web UI: a pipeline or node page kept live. Each "pipeline" message of the
 * page's event stream (the JSON of GET /api/pipelines/ID) is applied here: node
 * states, icons, durations and attempts in the tree, the counts, the badges, the
 * run and wall times, the executions of a node, which buttons apply (the rules of
 * ci_bot/web/ui/applicable.py), whether the shown log is live, and the artifacts
 * card, fetched again when an execution ends. Exposes window.ciBotLive.
 */
"use strict";

(function () {
  const STATES = ["pending", "queued", "running", "done", "error", "worker_error", "cancelled", "skipped"];
  const ICONS = { pending: "·", queued: "◌", running: "▶", done: "✔", error: "✘", worker_error: "⚠", cancelled: "⊘", skipped: "↷" };
  const COUNTERS = { P: ["pending"], Q: ["queued"], R: ["running"], D: ["done"], E: ["error", "worker_error"], S: ["skipped", "cancelled"] };
  const FAILED = ["error", "worker_error"];

  const body = document.body;
  let endedSeen = -1; // executions ended when the artifacts card was last fetched

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

  function parentOf(path) {
    const cut = path.lastIndexOf("/");
    return cut <= 0 ? "/" : path.slice(0, cut);
  }

  function enable(selector, on) {
    document.querySelectorAll(selector).forEach((button) => { button.disabled = !on; });
  }

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

  function applyTimes(pipeline) {
    // run time: the first execution's start to the last one's end; wall time: creation to end
    const runs = pipeline.nodes.flatMap((n) => n.executions || []);
    const starts = runs.map((r) => r.started_at).filter(Boolean).sort();
    const ends = runs.map((r) => r.ended_at).filter(Boolean).sort();
    const run = document.querySelector('.page-head [data-role="run-time"]');
    if (run) {
      run.dataset.start = starts[0] || "";
      run.dataset.end = pipeline.finished_at && starts.length ? ends[ends.length - 1] || "" : "";
    }
    const wall = document.querySelector('.page-head [data-role="wall-time"] .duration');
    if (wall) wall.dataset.end = pipeline.finished_at || "";
    return runs.filter((r) => r.ended_at).length;
  }

  // The rules of ci_bot/web/ui/applicable.py, for the buttons of the page.
  function applyPipelineButtons(pipeline, execs) {
    enable('[data-role="next-error"]', execs.some((e) => FAILED.includes(e.state)));
    enable('[data-role="action-rerun-failed"]', execs.some((e) => FAILED.includes(e.state) || e.state === "cancelled"));
    enable('[data-role="action-cancel"]', !pipeline.finished_at);
  }

  function applyNodeButtons(pipeline, node) {
    const prefix = node.path.replace(/\/$/, "") + "/";
    const execs = pipeline.nodes.filter((n) => n.type === "exec" && (n.path === node.path || n.path.startsWith(prefix)));
    const skipped = "skip_reason" in node;
    enable('[data-role="action-reset"]', execs.some((e) => e.state !== "pending" && e.state !== "skipped"));
    enable('[data-role="action-skip"]', !skipped && execs.some((e) => e.state === "pending"));
    enable('[data-role="action-unskip"]', skipped);
  }

  async function refreshArtifacts(ended) {
    const url = body.dataset.artifacts;
    const card = document.querySelector('[data-role="artifacts"]');
    if (!url || !card || ended === endedSeen) return;
    // Fetched on the first update too: the page may have been drawn between a node's
    // end and its signing, and the first update may already count that node as ended.
    endedSeen = ended;
    const response = await fetch(url, { headers: { Accept: "text/html" } });
    if (!response.ok) return;
    const fresh = document.createElement("div");
    fresh.innerHTML = await response.text(); // the server's template, escaped by it
    const next = fresh.querySelector('[data-role="artifacts"]');
    if (next) { card.replaceWith(next); window.ciBotTimes.refresh(next); }
  }

  function applyPipeline(pipeline) {
    const times = spans(pipeline);
    pipeline.nodes.forEach((node) => {
      document.querySelectorAll('.node[data-path="' + CSS.escape(node.path) + '"]').forEach((item) => applyNode(item, node, times[node.path]));
    });
    const execs = applyCounts(pipeline);
    applyBadge(document.querySelector('[data-role="pipeline-state"]'), pipeline.state);
    const ended = applyTimes(pipeline);
    applyPipelineButtons(pipeline, execs);
    if (body.dataset.page === "node") applyNodePage(pipeline);
    refreshArtifacts(ended).catch(() => {});
    window.ciBotTimes.refresh();
  }

  function applyNodePage(pipeline) {
    const node = pipeline.nodes.find((n) => n.path === body.dataset.node);
    if (!node) return;
    applyBadge(document.querySelector('[data-role="node-state"]'), node.state);
    const message = document.querySelector('[data-role="node-message"]');
    if (message) {
      const failed = FAILED.includes(node.state);
      message.textContent = failed ? node.message || "" : "";
      message.hidden = !(failed && node.message);
    }
    applyNodeButtons(pipeline, node);
    const skipped = document.querySelector('[data-role="skip-reason"]');
    if (skipped) {
      skipped.hidden = !node.skip_reason;
      skipped.querySelector("span").textContent = node.skip_reason || "";
    }
    if (!node.executions) return;
    renderRuns(node.executions);
    const box = document.getElementById("log");
    const shown = node.executions.find((run) => String(run.id) === box.dataset.execution);
    const attempt = document.querySelector('[data-role="log-attempt"]');
    if (attempt && shown) attempt.textContent = "attempt " + shown.attempt;
    window.ciBotLog.setRunning(!!shown && !!shown.started_at && !shown.ended_at);
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
      if (run.started_at) {
        const time = el("time");
        time.setAttribute("datetime", run.started_at);
        time.dataset.format = "time";
        meta.append(time, " ");
      }
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

  window.ciBotLive = { applyPipeline };
})();
