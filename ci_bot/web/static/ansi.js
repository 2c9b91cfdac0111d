/* ci-bot web UI: one log line as the page shows it. Lines arrive as "TIMESTAMP TEXT";
 * ANSI colour codes become spans with classes, other escape sequences are dropped,
 * and text only ever reaches the page as text (textContent), never as HTML.
 * A line's UTC stamp shows as the browser's time of day. Exposes window.ciBotAnsi for
 * the log view (log.js): line() draws a line, with its number and a search's matches
 * marked; plain() is the text a search looks through.
 */
"use strict";

(function () {
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

  const CLOCK = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });

  // A line's UTC stamp as the time of day where the browser is.
  function clockTime(stamp) {
    const moment = Date.parse(stamp);
    return Number.isNaN(moment) ? stamp.slice(11, 19) : CLOCK.format(moment);
  }

  // "2026-01-02T03:04:05.678Z text" → its stamp ("" when it has none) and its text
  function split(raw) {
    const space = raw.indexOf(" ");
    const stamp = space > 0 && /^\d{4}-\d\d-\d\dT/.test(raw) ? raw.slice(0, space) : "";
    return { stamp, text: stamp ? raw.slice(space + 1) : raw };
  }

  // The text as shown, without its stamp or escape codes: what a search looks through.
  function plain(raw) {
    return ansiRuns(split(raw).text).map((run) => run[0]).join("");
  }

  // Where `query` (already lower case) occurs in `text`, as [start, end) pairs.
  function matches(text, query) {
    const found = [];
    if (!query) return found;
    const lower = text.toLowerCase();
    for (let at = lower.indexOf(query); at >= 0; at = lower.indexOf(query, at + query.length)) {
      found.push([at, at + query.length]);
    }
    return found;
  }

  // Appends the runs to `box`, each part inside a match wrapped in <mark>.
  function appendRuns(box, runs, ranges) {
    let offset = 0;
    let r = 0;
    runs.forEach(([text, classes, css]) => {
      let pos = 0;
      while (pos < text.length) {
        const at = offset + pos;
        while (r < ranges.length && ranges[r][1] <= at) r++;
        const inside = r < ranges.length && ranges[r][0] <= at;
        const edge = r < ranges.length ? (inside ? ranges[r][1] : ranges[r][0]) - offset : text.length;
        const cut = Math.min(text.length, edge);
        let part = document.createTextNode(text.slice(pos, cut));
        if (classes || css) {
          const span = el("span", classes);
          if (css) span.style.cssText = css;
          span.append(part);
          part = span;
        }
        if (inside) {
          const mark = el("mark");
          mark.append(part);
          part = mark;
        }
        box.append(part);
        pos = cut;
      }
      offset += text.length;
    });
  }

  // One line as an element; `number` adds its permalink (#L123), `query` marks its matches.
  function line(raw, number, query) {
    const { stamp, text } = split(raw);
    const row = el("div", "line" + (text.startsWith("[ci-bot] ") ? " note" : ""));
    if (number) {
      row.dataset.n = number;
      const link = el("a", "ln", String(number));
      link.href = "#L" + number;
      link.setAttribute("aria-label", "line " + number);
      row.append(link);
    }
    const ts = el("span", "ts", stamp ? clockTime(stamp) : "");
    if (stamp) ts.title = stamp;
    const tx = el("span", "tx");
    const runs = ansiRuns(text);
    const ranges = query ? matches(runs.map((run) => run[0]).join(""), query) : [];
    appendRuns(tx, runs, ranges);
    if (ranges.length) row.classList.add("match");
    row.append(ts, tx);
    return row;
  }

  window.ciBotAnsi = { line, plain, matches };
})();
