/* ci-bot web UI: a node's log. Lines arrive as "TIMESTAMP TEXT"; ANSI colour codes
 * become spans with classes, other escape sequences are dropped, and text only
 * ever reaches the page as text (textContent), never as HTML. Exposes
 * window.ciBotLog for ci-bot.js, which feeds it the stream's "log" messages.
 */
"use strict";

(function () {
  const MAX_LOG_LINES = 5000;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Splits a line into [text, classes, style] runs by its SGR escape codes; other
  // escape sequences are dropped. A "\r" keeps what was written after it, as a terminal would.
  function ansiRuns(line) {
    const cr = line.lastIndexOf("\r", line.length - 2);
    if (cr >= 0) line = line.slice(cr + 1);
    line = line.replace(/\r$/, "").replace(/\x1b\][^\x07\x1b]*(\x07|\x1b\\)/g, "");
    const runs = [];
    const style = { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false, fgRgb: "", bgRgb: "" };
    const pattern = /\x1b\[([0-9;?]*)([A-Za-z])/g;
    let last = 0;
    let match;
    while ((match = pattern.exec(line)) !== null) {
      if (match.index > last) runs.push(runOf(line.slice(last, match.index), style));
      if (match[2] === "m") applySgr(style, match[1]);
      last = pattern.lastIndex;
    }
    if (last < line.length) runs.push(runOf(line.slice(last), style));
    return runs.map((run) => [run[0].replace(/\x1b/g, ""), run[1], run[2]]);
  }

  function runOf(text, style) {
    const classes = [];
    if (style.bold) classes.push("ansi-bold");
    if (style.dim) classes.push("ansi-dim");
    if (style.italic) classes.push("ansi-italic");
    if (style.underline) classes.push("ansi-underline");
    if (style.fg !== null) classes.push("ansi-fg-" + (style.bold && style.fg < 8 ? style.fg + 8 : style.fg));
    if (style.bg !== null) classes.push("ansi-bg-" + (style.bg % 8));
    let css = "";
    if (style.fgRgb) css += "color:" + style.fgRgb + ";";
    if (style.bgRgb) css += "background:" + style.bgRgb + ";";
    return [text, classes.join(" "), css];
  }

  function applySgr(style, params) {
    const codes = params === "" ? [0] : params.split(";").map((p) => parseInt(p, 10) || 0);
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i];
      if (code === 0) Object.assign(style, { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false, fgRgb: "", bgRgb: "" });
      else if (code === 1) style.bold = true;
      else if (code === 2) style.dim = true;
      else if (code === 3) style.italic = true;
      else if (code === 4) style.underline = true;
      else if (code === 22) { style.bold = false; style.dim = false; }
      else if (code === 23) style.italic = false;
      else if (code === 24) style.underline = false;
      else if (code >= 30 && code <= 37) { style.fg = code - 30; style.fgRgb = ""; }
      else if (code >= 90 && code <= 97) { style.fg = code - 90 + 8; style.fgRgb = ""; }
      else if (code === 39) { style.fg = null; style.fgRgb = ""; }
      else if (code >= 40 && code <= 47) { style.bg = code - 40; style.bgRgb = ""; }
      else if (code >= 100 && code <= 107) { style.bg = code - 100; style.bgRgb = ""; }
      else if (code === 49) { style.bg = null; style.bgRgb = ""; }
      else if (code === 38 || code === 48) {
        const colour = extendedColour(codes, i);
        i = colour.next;
        if (code === 38) { style.fg = null; style.fgRgb = colour.css; } else { style.bg = null; style.bgRgb = colour.css; }
      }
    }
  }

  function extendedColour(codes, i) {
    if (codes[i + 1] === 2) {
      const [r, g, b] = [codes[i + 2], codes[i + 3], codes[i + 4]].map((v) => Math.min(255, v || 0));
      return { css: "rgb(" + r + "," + g + "," + b + ")", next: i + 4 };
    }
    if (codes[i + 1] === 5) return { css: xterm256(codes[i + 2] || 0), next: i + 2 };
    return { css: "", next: i };
  }

  function xterm256(n) {
    const basic = ["#000", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5",
      "#666", "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#fff"];
    if (n < 16) return basic[n];
    if (n >= 232) { const v = 8 + (n - 232) * 10; return "rgb(" + v + "," + v + "," + v + ")"; }
    const c = n - 16;
    const level = (x) => (x ? 55 + x * 40 : 0);
    return "rgb(" + level(Math.floor(c / 36)) + "," + level(Math.floor(c / 6) % 6) + "," + level(c % 6) + ")";
  }

  function logLine(raw) {
    const space = raw.indexOf(" ");
    const stamp = space > 0 && /^\d{4}-\d\d-\d\dT/.test(raw) ? raw.slice(0, space) : "";
    const text = stamp ? raw.slice(space + 1) : raw;
    const line = el("div", "line" + (text.startsWith("[ci-bot] ") ? " note" : ""));
    const ts = el("span", "ts", stamp ? stamp.slice(11, 19) : "");
    if (stamp) ts.title = stamp;
    const tx = el("span", "tx");
    ansiRuns(text).forEach(([part, classes, css]) => {
      if (!classes && !css) { tx.append(part); return; }
      const span = el("span", classes, part);
      if (css) span.style.cssText = css;
      tx.append(span);
    });
    line.append(ts, tx);
    return line;
  }

  window.ciBotLog = {
    box: null,
    execution: "",
    end: 0,

    init() {
      this.box = document.getElementById("log");
      if (!this.box) return;
      this.execution = this.box.dataset.execution;
      if (this.box.dataset.logUrl) return this.loadTail(this.box.dataset.logUrl);
      return Promise.resolve();
    },

    async loadTail(url) {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (!response.ok) { this.status("the log could not be read (" + response.status + ")"); return; }
      const chunk = await response.json();
      this.box.replaceChildren();
      const cut = document.querySelector('[data-role="log-cut"]');
      if (cut && chunk.truncated) {
        cut.querySelector(".n").textContent = chunk.lines.length;
        cut.querySelector(".size").textContent = Math.round(chunk.size / 1024) + " KiB";
        cut.hidden = false;
      }
      this.append(chunk.lines);
      this.end = chunk.end;
      if (!chunk.lines.length) this.box.append(el("p", "muted log-empty", chunk.finished ? "No output." : "No output yet."));
      this.box.dataset.loaded = "true";
    },

    append(lines) {
      if (!lines.length) return;
      const atBottom = this.box.scrollHeight - this.box.scrollTop - this.box.clientHeight < 40;
      this.box.querySelectorAll(".log-empty").forEach((p) => p.remove());
      const fragment = document.createDocumentFragment();
      lines.forEach((raw) => fragment.append(logLine(raw)));
      this.box.append(fragment);
      const all = this.box.querySelectorAll(".line");
      for (let i = 0; i < all.length - MAX_LOG_LINES; i++) all[i].remove();
      if (atBottom) this.box.scrollTop = this.box.scrollHeight;
    },

    onMessage(data) {
      if (!this.box || this.box.dataset.follow !== "true") return;
      if (data.restart || String(data.execution) !== String(this.execution)) {
        this.execution = String(data.execution);
        this.box.dataset.execution = this.execution;
        this.box.replaceChildren(el("p", "muted log-empty", "Attempt started; waiting for output…"));
        this.updateDownload(data.execution);
        const cut = document.querySelector('[data-role="log-cut"]');
        if (cut) cut.hidden = true;
      }
      this.append(data.lines);
      this.end = data.end;
    },

    updateDownload(execution) {
      const link = document.querySelector('[data-role="log-download"]');
      if (!link) return;
      link.href = "/api/pipelines/" + document.body.dataset.pipeline + "/executions/" + execution + "/log.txt";
      link.hidden = false;
    },

    status(text) {
      const status = document.querySelector('[data-role="log-status"]');
      if (status) status.textContent = text;
    },

    position() {
      return "0." + (this.execution || 0) + "." + (this.end || 0);
    },

    line: logLine, // one log line as an element (the tests use it)
  };
})();
