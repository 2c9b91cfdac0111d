/* ci-bot web UI: times and durations in the browser's own terms.
 *
 * The server writes UTC (ISO 8601). Here <time data-format> becomes the browser's
 * zone: "relative" reads "3 min ago" (the full local time in its title), "time"
 * reads 14:03:07. A ".duration[data-start]" counts from its start to its end, or
 * to now while it has none; a ".times" pair hides its wall time when that reads the
 * same as its run time. ci-bot.js calls refresh() every second.
 */
"use strict";

(function () {
  const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });
  const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "long" });
  const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const STEPS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];

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

  function ago(moment, now) {
    const seconds = (moment - now) / 1000;
    if (Math.abs(seconds) < 45) return "just now";
    for (const [unit, size] of STEPS) {
      if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
    }
    return relative.format(Math.round(seconds / 60), "minute");
  }

  function showTime(node, now) {
    const moment = Date.parse(node.getAttribute("datetime"));
    if (Number.isNaN(moment)) return;
    if (!node.dataset.local) {  // once: the full local time, for a hover
      node.title = full.format(moment);
      node.dataset.local = "true";
    }
    node.textContent = node.dataset.format === "time" ? clock.format(moment) : ago(moment, now);
  }

  function showDuration(span, now) {
    const start = span.dataset.start;
    if (!start) { span.textContent = ""; return; }
    const end = span.dataset.end ? Date.parse(span.dataset.end) : now;
    span.textContent = formatDuration((end - Date.parse(start)) / 1000);
  }

  function refresh(root) {
    const scope = root || document;
    const now = Date.now();
    scope.querySelectorAll("time[datetime][data-format]").forEach((node) => showTime(node, now));
    scope.querySelectorAll(".duration[data-start]").forEach((span) => showDuration(span, now));
    scope.querySelectorAll(".times").forEach((pair) => {
      const run = pair.querySelector(".run");
      const wall = pair.querySelector(".wall");
      if (run && wall) wall.hidden = wall.querySelector(".duration").textContent === run.textContent;
    });
  }

  window.ciBotTimes = { refresh, formatDuration };
})();
