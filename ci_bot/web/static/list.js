/* ci-bot web UI: the pipeline list, live; and its "Run a pipeline" form.
 *
 * Every few seconds (while the tab is shown) the list's live part is fetched again
 * as HTML (/pipelines/rows, with the page's filters): the server draws rows one
 * way only. A row is replaced only when its data-version changed, new pipelines
 * are inserted in their place, and the state chips and totals follow. The Run form
 * posts to POST /api/pipelines and opens the pipeline it started.
 * Exposes window.ciBotList for ci-bot.js.
 */
"use strict";

(function () {
  const EVERY_MS = 2500;

  function live() {
    return document.querySelector('[data-role="list-live"]');
  }

  function replaceRole(fresh, role) {
    const old = live().querySelector('[data-role="' + role + '"]');
    const next = fresh.querySelector('[data-role="' + role + '"]');
    if (old && next && old.outerHTML !== next.outerHTML) old.replaceWith(next);
  }

  function merge(fresh) {
    const table = live().querySelector('[data-role="pipeline-list"]');
    const body = table.tBodies[0];
    const mine = new Map(Array.from(body.rows).map((row) => [row.dataset.id, row]));
    let before = body.firstElementChild;
    Array.from(fresh.querySelectorAll('[data-role="pipeline-list"] tbody > tr')).forEach((row) => {
      const old = mine.get(row.dataset.id);
      mine.delete(row.dataset.id);
      const keep = old !== undefined && old.dataset.version === row.dataset.version;
      const node = keep ? old : row;
      if (old && !keep) {
        if (before === old) before = old.nextElementSibling;
        old.remove();
      }
      if (!old) row.classList.add("new");
      if (!keep) window.ciBotTimes.refresh(row);
      if (node !== before) body.insertBefore(node, before);
      before = node.nextElementSibling;
    });
    mine.forEach((row) => row.remove());
    table.hidden = body.rows.length === 0;
    const empty = live().querySelector('[data-role="list-empty"]');
    if (empty) empty.hidden = body.rows.length > 0;
    ["list-total", "chips"].forEach((role) => replaceRole(fresh, role));
  }

  async function refresh(url) {
    if (document.hidden) return;
    const response = await fetch(url, { headers: { Accept: "text/html" } });
    if (!response.ok) return;
    const fresh = document.createElement("div");
    // the server's own template, escaped by it as the page was: no text of a
    // repository becomes markup here that did not on the first load
    fresh.innerHTML = await response.text();
    merge(fresh);
    document.body.dataset.listRefreshed = String(Date.now());
  }

  function follow() {
    const url = document.body.dataset.rows;
    if (!url || !live()) return;
    setInterval(() => refresh(url).catch(() => {}), EVERY_MS);
  }

  /* ---- Run a pipeline -------------------------------------------------------------- */

  async function run(event, notify, csrf) {
    const form = event.target.closest('[data-role="run-form"]');
    if (!form) return;
    event.preventDefault();
    const button = form.querySelector('[data-role="run-submit"]');
    button.disabled = true;
    const wish = {};
    ["repo", "branch", "sha", "event"].forEach((name) => {
      const value = form.elements[name].value.trim();
      if (value) wish[name] = value;
    });
    notify("Starting " + wish.repo + "…");
    try {
      const response = await fetch("/api/pipelines", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf() },
        body: JSON.stringify(wish),
      });
      const answer = await response.json().catch(() => ({ error: "HTTP " + response.status }));
      if (response.status === 201) { location.assign("/pipelines/" + answer.id); return; }
      if (response.status === 202) notify("Not started yet: " + answer.waiting + ". It appears here when it starts.");
      else notify(answer.error, true);
    } catch (error) {
      notify("ci-bot could not be reached: " + error, true);
    }
    button.disabled = false;
  }

  window.ciBotList = { follow, run };
})();
