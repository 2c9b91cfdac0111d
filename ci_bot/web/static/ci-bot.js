/* ci-bot web UI: live pages without a framework.
 *
 * The server draws every page; the scripts keep it live. A pipeline or node page
 * opens one EventSource on /api/pipelines/ID/stream and hands each "pipeline"
 * message to live.js and each "log" message to the log view (log.js); the list
 * follows itself (list.js). Action forms are sent with fetch() to the JSON API
 * (with the session's CSRF token), so nothing reloads; destructive ones (a form
 * with data-confirm) ask first, in a dialog. Times are kept current by times.js.
 */
"use strict";

(function () {
  const body = document.body;
  const log = window.ciBotLog;
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function notify(message, isError) {
    const box = document.getElementById("notice");
    if (!box) return;
    box.textContent = message;
    box.classList.toggle("error", !!isError);
    box.hidden = false;
    clearTimeout(notify.timer);
    notify.timer = setTimeout(() => { box.hidden = true; }, isError ? 12000 : 5000);
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
    source.addEventListener("pipeline", (event) => window.ciBotLive.applyPipeline(JSON.parse(event.data)));
    source.addEventListener("log", (event) => log.onMessage(JSON.parse(event.data)));
    source.addEventListener("open", () => { body.dataset.live = "true"; log.setConnected(true); });
    source.addEventListener("error", () => { body.dataset.live = "false"; log.setConnected(false); });
    window.ciBotStream = source;
    // leaving the page closes the stream at once, so the server frees its slot
    window.addEventListener("pagehide", () => source.close());
  }

  /* ---- asking first ------------------------------------------------------------------- */

  // Resolves true when the person confirms `question` (the dialog in base.html).
  function confirmed(question, yes) {
    const dialog = document.getElementById("confirm");
    if (!dialog || !dialog.showModal) return Promise.resolve(window.confirm(question));
    dialog.querySelector('[data-role="confirm-text"]').textContent = question;
    dialog.querySelector('[data-role="confirm-yes"]').textContent = yes;
    dialog.returnValue = "";
    dialog.showModal();
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
    });
  }

  /* ---- actions ------------------------------------------------------------------------- */

  async function post(url, wish) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(wish),
    });
    const answer = await response.json().catch(() => ({ error: "HTTP " + response.status }));
    return { response, answer };
  }

  async function submitAction(event) {
    const form = event.target.closest("form.action-form");
    if (!form) return;
    event.preventDefault();
    const button = form.querySelector("button");
    if (form.dataset.confirm && !(await confirmed(form.dataset.confirm, form.dataset.confirmYes))) return;
    button.disabled = true;
    const url = "/api/pipelines/" + form.dataset.pipeline + "/" + form.dataset.action;
    const wish = { path: form.elements.path.value };
    if (form.elements.run) wish.run = form.elements.run.value;  // "Edit command and reset"
    try {
      const { response, answer } = await post(url, wish);
      notify(response.ok ? answer.message : answer.error, !response.ok);
      if (response.ok && answer.run !== undefined) showCommand(form, answer.run);
    } catch (error) {
      notify("ci-bot could not be reached: " + error, true);
    } finally {
      button.disabled = false;  // the next pipeline message disables it again if it no longer applies
    }
  }

  async function submitRerun(event) {
    const form = event.target.closest("form.rerun-form");
    if (!form) return;
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    notify("Starting a new pipeline…");
    try {
      const { response, answer } = await post("/api/pipelines/" + form.dataset.pipeline + "/rerun", {});
      if (response.status === 201) { location.assign("/pipelines/" + answer.id); return; }
      if (response.status === 202) notify("Not started yet: " + answer.waiting + ". It appears in the list when it starts.");
      else notify(answer.error, true);
    } catch (error) {
      notify("ci-bot could not be reached: " + error, true);
    }
    button.disabled = false;
  }

  function onSubmit(event) {
    if (event.target.closest("form.action-form")) return submitAction(event);
    if (event.target.closest("form.rerun-form")) return submitRerun(event);
    if (event.target.closest('[data-role="run-form"]')) return window.ciBotList.run(event, notify, csrf);
    return undefined;
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
    document.addEventListener("submit", onSubmit);
    const on = (role, handler) => document.querySelectorAll('[data-role="' + role + '"]').forEach((b) => b.addEventListener("click", handler));
    on("next-error", nextError);
    on("copy", copyText);
    on("expand-all", () => setAllOpen(true));
    on("collapse-all", () => setAllOpen(false));
    document.addEventListener("keydown", (event) => {
      const typing = /INPUT|TEXTAREA|SELECT/.test((event.target || {}).tagName || "");
      if (event.key === "e" && !typing && !event.ctrlKey && !event.metaKey && document.querySelector(".tree")) nextError();
    });
    window.ciBotTimes.refresh();
    setInterval(() => window.ciBotTimes.refresh(), 1000);
    if (body.dataset.page === "node") await log.init();
    connect();
    window.ciBotList.follow();
  });
})();
