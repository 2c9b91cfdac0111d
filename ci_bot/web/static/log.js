/* ci-bot web UI: a node's log, every line of it.
 *
 * The page first shows the log's tail (GET …/log, which numbers its first line),
 * then fetches what came before it (…/log?offset=N&limit=…), so every line of a log
 * up to FULL_BYTES is held here: a search looks through all of them and #L123
 * reaches any of them. A longer log keeps its tail and says so above it.
 *
 * Only lines near the view are drawn. Lines are grouped in blocks of BLOCK; a block
 * that leaves the view (by a margin) keeps its height and drops its elements, so a
 * 50 000-line log costs a few hundred elements. ci-bot.js feeds the view the
 * stream's "log" messages and the shown execution's state (running or not).
 * Exposes window.ciBotLog.
 */
"use strict";

(function () {
  const BLOCK = 200;
  const FULL_BYTES = 32 * 1024 * 1024;
  const CHUNK_BYTES = 4 * 1024 * 1024;
  const MARGIN = "1200px 0px";
  const WRAP_KEY = "ci-bot.log.wrap";
  const ansi = window.ciBotAnsi;

  const $ = (role) => document.querySelector('[data-role="' + role + '"]');

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function mib(bytes) {
    return (bytes / 1048576).toFixed(bytes < 10485760 ? 1 : 0) + " MiB";
  }

  // A preference kept in the browser (none where storage is refused).
  function remembered(key) {
    try { return localStorage.getItem(key); } catch (error) { return null; }
  }

  function remember(key, value) {
    try { localStorage.setItem(key, value); } catch (error) { /* kept for this page only */ }
  }

  function wanted() {
    // the line #L123 names, or 0
    const found = /^#L(\d+)$/.exec(location.hash);
    return found ? parseInt(found[1], 10) : 0;
  }

  const view = {
    box: null, // #log, which scrolls
    sheet: null, // the blocks' parent
    lines: [], // every line held, raw ("TIMESTAMP TEXT")
    plains: [], // their text as searched, lower case, made when first searched
    first: 1, // the number of lines[0]
    execution: "",
    end: 0, // the byte after the last line held: where the stream reads on
    blocks: [], // { node, drawn }
    observer: null,
    lineHeight: 20,
    query: "",
    hits: [], // indexes of the lines that match the query
    hit: -1, // which of them is the current one
    target: 0, // the line #L… names
    following: false,
    running: false,
    connected: false,

    /* ---- loading ------------------------------------------------------------------ */

    async init() {
      this.box = document.getElementById("log");
      if (!this.box) return;
      this.execution = this.box.dataset.execution;
      this.running = this.box.dataset.running === "true";
      this.target = wanted();
      this.sheet = el("div", "sheet");
      this.observer = new IntersectionObserver((entries) => this.onVisible(entries), { root: this.box, rootMargin: MARGIN });
      this.setUpTools();
      this.setRunning(this.running);
      if (this.box.dataset.logUrl) await this.loadTail(this.box.dataset.logUrl);
    },

    async loadTail(url) {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (!response.ok) { this.say("the log could not be read (" + response.status + ")"); return; }
      const chunk = await response.json();
      this.box.replaceChildren(this.sheet);
      this.first = chunk.first_line || 1;
      this.end = chunk.end;
      this.lines = [];
      this.rebuild();
      this.append(chunk.lines);
      if (!chunk.lines.length) this.sheet.append(el("p", "muted log-empty", chunk.finished ? "No output." : "No output yet."));
      this.setFollowing(this.running && !this.target);
      if (!this.target || !this.reveal(this.target)) this.toBottom();
      this.box.dataset.loaded = "true";
      if (chunk.start > 0 && chunk.start <= FULL_BYTES) this.loadEarlier(url, chunk.start, chunk.size);
      else if (chunk.start > 0) this.cut(chunk.size);
      else this.box.dataset.whole = "true";
    },

    async loadEarlier(url, upTo, size) {
      // lines before the tail, in chunks; drawn at once when all have come, the view kept
      const earlier = [];
      const notice = $("log-cut");
      for (let offset = 0; offset < upTo;) {
        notice.textContent = "Reading the earlier lines: " + mib(offset) + " of " + mib(size) + "…";
        notice.hidden = false;
        const limit = Math.min(CHUNK_BYTES, upTo - offset);
        const response = await fetch(url + "?offset=" + offset + "&limit=" + limit, { headers: { Accept: "application/json" } });
        if (!response.ok) { notice.textContent = "The earlier lines could not be read (" + response.status + ")."; return; }
        const chunk = await response.json();
        if (chunk.execution !== undefined && String(chunk.execution) !== String(this.execution)) return;
        if (chunk.end <= offset) break;
        earlier.push(...chunk.lines);
        offset = chunk.end;
      }
      notice.hidden = true;
      const topLine = this.lineAtTop();
      const atBottom = this.atBottom();
      const hitLine = this.hit >= 0 ? this.first + this.hits[this.hit] : 0;
      this.lines = earlier.concat(this.lines);
      this.plains = [];
      this.first = 1;
      this.rebuild();
      this.box.dataset.whole = "true";
      if (this.query) this.search(this.query, hitLine || topLine || 1);
      if (this.target && this.reveal(this.target)) return;
      if (atBottom || this.following) this.toBottom();
      else if (topLine) this.reach(topLine, "start");
    },

    cut(size) {
      const notice = $("log-cut");
      const download = $("log-download");
      notice.replaceChildren(
        "This log is " + mib(size) + ", too long to read here whole: lines " + this.first + " and after are shown. ",
        Object.assign(el("a", "", "Download the whole log"), { href: download ? download.href : "" }));
      notice.hidden = false;
      if (this.target && this.target < this.first) this.say("line " + this.target + " is before what is shown here");
    },

    /* ---- blocks: drawn near the view, dropped away from it -------------------------- */

    rebuild() {
      this.blocks.forEach((block) => this.observer.unobserve(block.node));
      this.blocks = [];
      this.sheet.replaceChildren();
      this.lineHeight = this.measure();
      const total = this.lines.length;
      for (let start = 0; start < total; start += BLOCK) this.addBlock(Math.min(BLOCK, total - start));
    },

    measure() {
      const probe = ansi.line("2026-01-01T00:00:00.000Z x", 1);
      this.sheet.append(probe);
      const height = probe.getBoundingClientRect().height || 20;
      probe.remove();
      return height;
    },

    addBlock(count) {
      const node = el("div", "block");
      node.style.height = count * this.lineHeight + "px";
      node.dataset.index = this.blocks.length;
      this.sheet.append(node);
      this.blocks.push({ node, drawn: false });
      this.observer.observe(node);
    },

    onVisible(entries) {
      entries.forEach((entry) => {
        const index = parseInt(entry.target.dataset.index, 10);
        if (entry.isIntersecting) this.draw(index);
        else this.drop(index);
      });
    },

    draw(index) {
      const block = this.blocks[index];
      if (!block || block.drawn) return;
      const fragment = document.createDocumentFragment();
      const stop = Math.min(this.lines.length, (index + 1) * BLOCK);
      for (let k = index * BLOCK; k < stop; k++) fragment.append(this.lineElement(k));
      block.node.replaceChildren(fragment);
      block.node.style.height = "";
      block.drawn = true;
    },

    drop(index) {
      const block = this.blocks[index];
      if (!block || !block.drawn) return;
      block.node.style.height = block.node.getBoundingClientRect().height + "px";
      block.node.replaceChildren();
      block.drawn = false;
    },

    redraw() {
      this.blocks.forEach((block, index) => {
        if (block.drawn) { block.drawn = false; this.draw(index); }
      });
    },

    lineElement(k) {
      const number = this.first + k;
      const line = ansi.line(this.lines[k], number, this.query);
      if (number === this.target) line.classList.add("target");
      if (this.hit >= 0 && this.hits[this.hit] === k) line.classList.add("current");
      return line;
    },

    element(k) {
      const block = this.blocks[Math.floor(k / BLOCK)];
      return block && block.drawn ? block.node.children[k % BLOCK] : null;
    },

    append(lines) {
      if (!lines.length) return;
      this.sheet.querySelectorAll(".log-empty").forEach((p) => p.remove());
      lines.forEach((raw) => {
        const k = this.lines.length;
        this.lines.push(raw);
        if (k % BLOCK === 0) this.addBlock(0);
        const block = this.blocks[this.blocks.length - 1];
        if (block.drawn) block.node.append(this.lineElement(k));
        else block.node.style.height = (parseFloat(block.node.style.height) || 0) + this.lineHeight + "px";
        if (this.query && this.plain(k).includes(this.query)) this.hits.push(k);
      });
      if (this.query) this.countHits();
      if (this.following) this.toBottom();
    },

    /* ---- where the view is --------------------------------------------------------- */

    toBottom() {
      this.draw(this.blocks.length - 1);
      this.box.scrollTop = this.box.scrollHeight;
    },

    atBottom() {
      return this.box.scrollHeight - this.box.scrollTop - this.box.clientHeight < 40;
    },

    lineAtTop() {
      const top = this.box.getBoundingClientRect().top;
      const line = Array.from(this.sheet.querySelectorAll(".line")).find((l) => l.getBoundingClientRect().bottom > top);
      return line ? parseInt(line.dataset.n, 10) : 0;
    },

    // Scrolls the log to line `number` (centred, or at the top); its element, or null
    // when the line is not held here.
    reach(number, where) {
      const k = number - this.first;
      if (k < 0 || k >= this.lines.length) return null;
      const index = Math.floor(k / BLOCK);
      [index - 1, index, index + 1].forEach((i) => this.draw(i));
      const line = this.element(k);
      const above = where === "start" ? 0 : (this.box.clientHeight - line.offsetHeight) / 2;
      this.box.scrollTop = line.offsetTop - above;
      return line;
    },

    // reach(), and the page scrolled too when the line is out of the window.
    reveal(number) {
      const line = this.reach(number);
      if (line) line.scrollIntoView({ block: "nearest" });
      return line !== null;
    },

    setTarget(number) {
      this.sheet.querySelectorAll(".line.target").forEach((line) => line.classList.remove("target"));
      this.target = number;
      const line = this.element(number - this.first);
      if (line) line.classList.add("target");
    },

    /* ---- search -------------------------------------------------------------------- */

    plain(k) {
      if (this.plains[k] === undefined) this.plains[k] = ansi.plain(this.lines[k]).toLowerCase();
      return this.plains[k];
    },

    // Finds `text` in every line held; the current match is the first at or after line
    // `from` (and then the view stays), or after the view's top (and the view goes to it).
    search(text, from) {
      this.query = text.toLowerCase();
      this.hits = [];
      if (this.query) {
        for (let k = 0; k < this.lines.length; k++) if (this.plain(k).includes(this.query)) this.hits.push(k);
      }
      const start = (from || this.lineAtTop() || this.first) - this.first;
      const next = this.hits.findIndex((k) => k >= start);
      this.hit = this.hits.length ? (next >= 0 ? next : 0) : -1;
      this.redraw();
      this.countHits();
      if (this.hit >= 0 && !from) this.showHit();
    },

    step(by) {
      if (!this.hits.length) return;
      this.hit = (this.hit + by + this.hits.length) % this.hits.length;
      this.countHits();
      this.showHit();
    },

    showHit() {
      this.setFollowing(false);
      this.sheet.querySelectorAll(".line.current").forEach((line) => line.classList.remove("current"));
      const k = this.hits[this.hit];
      this.reveal(this.first + k);
      const line = this.element(k);
      if (line) line.classList.add("current");
    },

    countHits() {
      const count = $("log-matches");
      const some = this.hits.length > 0;
      if (count) count.textContent = !this.query ? "" : some ? (this.hit + 1) + " of " + this.hits.length : "no match";
      ["log-prev", "log-next"].forEach((role) => { const b = $(role); if (b) b.disabled = !some; });
    },

    /* ---- tools: search box, wrap, follow, line links --------------------------------- */

    setUpTools() {
      ["log-search-box", "log-wrap", "log-follow"].forEach((role) => { const t = $(role); if (t) t.hidden = false; });
      const input = $("log-search");
      let timer = 0;
      input.addEventListener("input", () => {
        clearTimeout(timer);
        timer = setTimeout(() => this.search(input.value.trim()), 120);
      });
      input.addEventListener("keydown", (event) => {
        if (event.key === "Enter") {
          event.preventDefault();
          clearTimeout(timer);
          if (input.value.trim().toLowerCase() !== this.query) this.search(input.value.trim());
          else this.step(event.shiftKey ? -1 : 1);
        } else if (event.key === "Escape") {
          input.value = "";
          this.search("");
        }
      });
      $("log-next").addEventListener("click", () => this.step(1));
      $("log-prev").addEventListener("click", () => this.step(-1));
      const wrap = $("log-wrap");
      this.setWrap(remembered(WRAP_KEY) !== "false");
      wrap.addEventListener("click", () => this.setWrap(wrap.getAttribute("aria-pressed") !== "true"));
      $("log-follow").addEventListener("click", () => this.setFollowing(!this.following));
      // only a person scrolling up stops following (a block drawn above the view does not)
      const stop = () => this.setFollowing(false);
      this.box.addEventListener("wheel", (event) => { if (event.deltaY < 0) stop(); }, { passive: true });
      this.box.addEventListener("keydown", (event) => { if (/^(ArrowUp|PageUp|Home)$/.test(event.key)) stop(); });
      ["touchend", "mouseup"].forEach((kind) => this.box.addEventListener(kind, () => { if (!this.atBottom()) stop(); }));
      this.box.addEventListener("click", (event) => this.onLineLink(event));
      window.addEventListener("hashchange", () => {
        const number = wanted();
        if (number) { this.setTarget(number); this.setFollowing(false); this.reveal(number); }
      });
      document.addEventListener("keydown", (event) => {
        const typing = /INPUT|TEXTAREA|SELECT/.test((event.target || {}).tagName || "");
        if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey) { event.preventDefault(); input.focus(); }
      });
    },

    setWrap(on) {
      this.box.classList.toggle("wrap", on);
      $("log-wrap").setAttribute("aria-pressed", String(on));
      remember(WRAP_KEY, String(on));
    },

    setFollowing(on) {
      this.following = on && this.running;
      const button = $("log-follow");
      if (button) button.setAttribute("aria-pressed", String(this.following));
      if (this.following) this.toBottom();
    },

    onLineLink(event) {
      // a line number: the address names this execution and line, and the line is marked
      const link = event.target.closest("a.ln");
      if (!link) return;
      event.preventDefault();
      const number = parseInt(link.closest(".line").dataset.n, 10);
      const url = new URL(location.href);
      if (this.execution) url.searchParams.set("execution", this.execution);
      url.hash = "L" + number;
      history.replaceState(null, "", url);
      this.setTarget(number);
      this.setFollowing(false);
    },

    /* ---- what ci-bot.js tells it ------------------------------------------------------ */

    onMessage(data) {
      if (!this.box || this.box.dataset.follow !== "true") return;
      if (data.restart || String(data.execution) !== String(this.execution)) {
        this.execution = String(data.execution);
        this.box.dataset.execution = this.execution;
        this.lines = [];
        this.plains = [];
        this.first = 1;
        this.target = 0;
        this.box.replaceChildren(this.sheet);
        this.rebuild();
        this.sheet.append(el("p", "muted log-empty", "Attempt started; waiting for output…"));
        this.updateDownload(data.execution);
        $("log-cut").hidden = true;
        this.setRunning(true); // a new attempt: followed from its first line
        if (this.query) this.search(this.query, 1);
      }
      this.append(data.lines);
      this.end = data.end;
    },

    // The shown execution's state: "live" (and following) only while it runs.
    setRunning(running) {
      if (running && !this.running) this.setFollowing(true);
      this.running = running;
      if (!running) this.setFollowing(false);
      const follow = $("log-follow");
      if (follow) follow.disabled = !running;
      this.showStatus();
    },

    setConnected(connected) {
      this.connected = connected;
      this.showStatus();
    },

    showStatus() {
      const status = $("log-status");
      if (!status) return;
      status.textContent = !this.running ? "" : this.connected ? "● live" : "reconnecting…";
      status.classList.toggle("live", this.running && this.connected);
    },

    say(text) {
      const status = $("log-status");
      if (status) status.textContent = text;
    },

    updateDownload(execution) {
      const link = $("log-download");
      if (!link) return;
      link.href = "/api/pipelines/" + document.body.dataset.pipeline + "/executions/" + execution + "/log.txt";
      link.hidden = false;
    },

    position() {
      return "0." + (this.execution || 0) + "." + (this.end || 0);
    },
  };

  window.ciBotLog = view;
})();
