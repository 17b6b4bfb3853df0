// The Exquisite page: shows what /api/state says and sends the user's requests. No business logic here:
// sizes, costs, seam scores, tile addresses and error messages all come from the server.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const ARROWS = { up: "\u2191", left: "\u2190", right: "\u2192", down: "\u2193" };
  const ui = {
    state: null,      // last /api/state
    viewer: null,     // the OpenSeadragon viewer
    item: null,       // the tiled image on show
    shown: null,      // token + tile format of the item on show
    watching: null,   // id of this tab's newest job
    watched: null,    // that job as last polled
    renders: 0,       // times the image on show finished loading
    smooth: true,     // image smoothing state of the drawer
    firstRenderMs: null,
  };
  window.imkerUI = ui; // for tests and benchmarks (and generate.js: ui.request, ui.poll, ui.showError, ui.el)

  // -- talking to the server ------------------------------------------------------------------------------
  async function request(method, path, body) {
    const init = { method, cache: "no-store", headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw { kind: "network", title: "The server cannot be reached", detail: "Is it still running? (" + e.message + ")" };
    }
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) {
      throw (data && data.error) || { kind: "http", title: "The server answered " + res.status, detail: res.statusText };
    }
    return data;
  }

  // -- errors -----------------------------------------------------------------------------------------------
  function showError(err) {
    $("error-title").textContent = err.title || "Something went wrong";
    $("error-detail").textContent = err.detail || "";
    $("error").dataset.kind = err.kind || "";
    $("error").hidden = false;
  }
  function hideError() { $("error").hidden = true; }

  // -- the viewer -----------------------------------------------------------------------------------------
  function boundsRect(s) {
    const b = s.canvas.bounds;
    if (b.width === 0 || b.height === 0) {
      const f = s.viewer.frame;
      return new OpenSeadragon.Rect(f.col_off, f.row_off, f.width, f.height);
    }
    return new OpenSeadragon.Rect(b.col_off, b.row_off, b.width, b.height);
  }

  function exactTiles(s) { return $("exact").checked || !s.viewer.formats.includes("jpg"); }

  function tileSource(s) {
    const v = s.viewer, f = v.frame, top = v.levels - 1, token = s.token, exact = exactTiles(s);
    return {
      width: f.width, height: f.height, tileSize: v.tile, tileOverlap: 0, minLevel: 0, maxLevel: top,
      // OpenSeadragon level z is pyramid level top - z; every tile is one pyramid chunk
      getTileUrl: (z, x, y) => {
        const level = top - z, fmt = exact ? "png" : "jpg";
        return "/api/tiles/" + level + "/" + x + "/" + y + "." + fmt + "?v=" + encodeURIComponent(token);
      },
    };
  }

  function createViewer() {
    ui.viewer = OpenSeadragon({
      element: $("viewer"),
      prefixUrl: "/static/vendor/openseadragon/images/",
      drawer: "canvas",
      imageSmoothingEnabled: true,    // turned off by showZoom() past 1:1, so single canvas pixels stay crisp
      maxZoomPixelRatio: 32,
      minZoomImageRatio: 0.2,
      visibilityRatio: 0.1,
      showNavigator: true,             // small, translucent and toggleable: see navigate.js
      navigatorPosition: "BOTTOM_LEFT",
      navigatorBackground: "transparent",
      navigatorSizeRatio: 0.14,
      navigatorOpacity: 0.7,
      showNavigationControl: false,    // replaced by real, focusable buttons in .viewer-tools (navigate.js)
      showRotationControl: false,
      preserveImageSizeOnResize: true,
      animationTime: 0.5,
      gestureSettingsMouse: { clickToZoom: false, dblClickToZoom: true },
    });
    const viewport = ui.viewer.viewport;
    viewport.goHome = function (immediately) {   // home = the canvas bounds, not the tile-aligned frame
      if (ui.state) this.fitBounds(boundsRect(ui.state), immediately);
      return this;
    };
    ui.viewer.addHandler("animation", showZoom);
    ui.viewer.addHandler("zoom", showZoom);
    document.dispatchEvent(new CustomEvent("imker:viewer", { detail: ui.viewer }));
  }

  function showZoom() {
    if (!ui.item) return;
    const z = ui.item.viewportToImageZoom(ui.viewer.viewport.getZoom(true));
    $("zoom-readout").textContent = (z >= 10 ? z.toFixed(0) : z >= 1 ? z.toFixed(1) : z.toFixed(2)) + "\u00d7";
    document.body.dataset.zoom = z.toFixed(4);
    const smooth = z < 1;   // smooth when zoomed out (no aliasing), crisp pixels when zoomed in
    if (smooth !== ui.smooth && ui.viewer.drawer && ui.viewer.drawer.setImageSmoothingEnabled) {
      ui.smooth = smooth;
      ui.viewer.drawer.setImageSmoothingEnabled(smooth);
    }
  }

  function rendered() {
    ui.renders += 1;
    if (ui.firstRenderMs === null) ui.firstRenderMs = performance.now();
    document.body.dataset.renders = String(ui.renders);
    loadThumbs();
  }

  // thumbnails wait for the viewer's first image, so they never compete with its tiles
  function loadThumbs() {
    if (ui.renders === 0) return;
    for (const img of document.querySelectorAll("#history img[data-src]")) {
      img.src = img.dataset.src;
      img.removeAttribute("data-src");
    }
  }

  function swapIn(item) {
    ui.item = item;
    const dropOthers = () => {   // remove the older images once the new one is complete (no blank flash)
      const world = ui.viewer.world;
      for (let i = world.getItemCount() - 1; i >= 0; i--) {
        const other = world.getItemAt(i);
        if (other !== ui.item) world.removeItem(other);
      }
    };
    const loaded = () => { dropOthers(); rendered(); showZoom(); };
    if (item.getFullyLoaded()) { loaded(); return; }
    const handler = (e) => {
      if (!e.fullyLoaded) return;
      item.removeHandler("fully-loaded-change", handler);
      if (ui.item === item) loaded();
    };
    item.addHandler("fully-loaded-change", handler);
  }

  function showCanvas(s, force) {
    const key = s.token + (exactTiles(s) ? ":png" : ":jpg");
    if (!force && ui.shown === key) return;
    ui.shown = key;
    const f = s.viewer.frame, b = s.canvas.bounds;
    $("empty-note").hidden = b.width > 0 && b.height > 0;
    const options = {
      tileSource: tileSource(s), x: f.col_off, y: f.row_off, width: f.width,
      success: (e) => {
        e.item.setClip(new OpenSeadragon.Rect(b.col_off - f.col_off, b.row_off - f.row_off, b.width, b.height));
        swapIn(e.item);
      },
    };
    if (!ui.viewer) {
      createViewer();
      ui.viewer.open(options);
    } else {
      ui.viewer.addTiledImage(options);
    }
  }

  // -- rendering the state ------------------------------------------------------------------------------------
  function setOptions(select, items, keep) {
    const signature = JSON.stringify(items);
    if (select.dataset.signature === signature) return;
    select.dataset.signature = signature;
    const previous = select.value || keep;
    select.replaceChildren(...items.map(([value, label]) => {
      const o = document.createElement("option");
      o.value = value;
      o.textContent = label;
      return o;
    }));
    if (items.some(([value]) => value === previous)) select.value = previous;
  }

  function renderGenerators(s) {
    setOptions($("generator"), s.generators.map((g) => [g.name, g.available ? g.name : g.name + " (unavailable)"]),
      s.default_generator);
    const chosen = s.generators.find((g) => g.name === $("generator").value);
    $("generator-note").hidden = !chosen || chosen.available;
    $("generator-note").textContent = chosen && !chosen.available ? chosen.name + ": " + chosen.note : "";
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function stepName(h) {
    return h.directions.length ? h.directions.map((d) => ARROWS[d] + " " + d).join(" + ") : h.kind;
  }

  function renderHistory(s) {
    const list = $("history");
    if (list.dataset.token === s.token) return;
    list.dataset.token = s.token;
    const items = [];
    const redo = s.redo || [];
    if (s.redoable > 0) {   // the redo list names its steps, the next one to redo nearest the head
      const li = el("li", "redo-note");
      li.append(el("div", null, s.redoable + " undone step" + (s.redoable > 1 ? "s" : "") + " can be redone:"));
      const names = el("ol", "redo-list");
      names.id = "redo-list";
      for (const h of redo.slice().reverse()) {
        const item = el("li", null, "#" + h.number + "  " + stepName(h) + (h.prompt ? " \u201c" + h.prompt + "\u201d" : ""));
        item.dataset.redo = h.number;
        names.append(item);
      }
      li.append(names);
      items.push(li);
    }
    for (const h of s.history.slice().reverse()) {
      const li = el("li");
      li.dataset.step = h.number;
      if (h.number === s.head) li.classList.add("head");
      const go = el("button", "entry");   // click: fly to the step's region and outline it (navigate.js)
      go.type = "button";
      go.dataset.step = h.number;
      go.setAttribute("aria-label", "Step " + h.number + ": " + stepName(h) + ". Show its region on the canvas");
      const img = el("img");
      img.dataset.src = h.thumb;
      img.alt = "";
      img.loading = "lazy";
      const text = el("div");
      const what = stepName(h);
      text.append(el("div", "title", "#" + h.number + "  " + what));
      if (h.prompt) text.append(el("div", "prompt", "\u201c" + h.prompt + "\u201d"));
      const facts = [];
      if (h.generator) facts.push(h.generator);
      if (h.seam_excess !== null) facts.push("seam " + h.seam_excess.toFixed(2));
      if (h.cost) facts.push(h.cost);
      if (h.source) facts.push("from " + h.source);
      facts.push(h.size[0] + "\u00a0\u00d7\u00a0" + h.size[1]);
      text.append(el("div", "facts", facts.join(" \u00b7 ")));
      go.append(img, text);
      li.append(go);
      items.push(li);
    }
    if (!s.history.length) items.push(el("li", "redo-note", "No steps yet."));
    list.replaceChildren(...items);
    loadThumbs();
  }

  function renderProgress(s) {
    const job = (ui.watched && (ui.watched.status === "queued" || ui.watched.status === "running"))
      ? (s.job && s.job.id !== ui.watched.id && ui.watched.status === "queued" ? s.job : ui.watched)
      : s.job;
    const box = $("progress");
    if (!job || (job.status !== "running" && job.status !== "queued")) { box.hidden = true; return; }
    box.hidden = false;
    const what = job.directions.map((d) => ARROWS[d] + " " + d).join(" + ");
    let text;
    if (job.status === "queued") {
      text = "Waiting for the job before it\u2026 (" + what + ")";
    } else {
      text = "Step " + Math.min(job.steps_done + 1, job.steps) + " of " + job.steps + " \u00b7 tile " +
        job.tiles_done + " of " + job.tiles_total + " \u00b7 " + what + " \u00b7 " + job.generator;
    }
    if (s.queued > 0) text += " \u00b7 " + s.queued + " more queued";
    $("progress-text").textContent = text;
    $("progress-fill").style.width = (100 * job.progress).toFixed(1) + "%";
    const bar = $("progress-bar");
    bar.setAttribute("aria-valuenow", String(Math.round(100 * job.progress)));
    bar.setAttribute("aria-valuetext", text);
  }

  function render(s) {
    ui.state = s;
    const busy = !!s.job || s.queued > 0;
    $("canvas-name").textContent = s.canvas.name;
    $("canvas-size").textContent = s.canvas.width + " \u00d7 " + s.canvas.height + " px";
    $("cost").textContent = "Spent " + s.cost.spent + (s.cost.budget ? " of " + s.cost.budget + " budget" : " \u00b7 no budget limit");
    document.body.dataset.head = String(s.head);
    document.body.dataset.token = s.token;
    document.body.dataset.busy = String(busy);
    renderGenerators(s);
    setOptions($("seam"), s.seams.map((n) => [n, n]), "exact");
    $("undo").disabled = s.head === 0 || busy;
    $("redo").disabled = s.redoable === 0 || busy;
    $("redo").textContent = s.redoable > 0 ? "Redo (" + s.redoable + ")" : "Redo";
    const next = (s.redo || [])[0];
    $("redo").title = next ? "redo step #" + next.number + ": " + stepName(next) : "nothing to redo";
    renderHistory(s);
    renderProgress(s);
    showCanvas(s, false);
    document.dispatchEvent(new CustomEvent("imker:state", { detail: s }));   // generate.js draws its parts
  }

  // -- polling ----------------------------------------------------------------------------------------------
  let pollTimer = null;
  function setLive(ok) {
    $("live").textContent = ok ? "live" : "offline";
    $("live").classList.toggle("offline", !ok);
  }

  async function poll() {
    clearTimeout(pollTimer);
    let busy = false;
    try {
      if (ui.watching) {
        const j = await request("GET", "/api/jobs/" + ui.watching);
        ui.watched = j.job;
        if (j.job.status === "failed") showError(j.job.error);
        if (j.job.status !== "queued" && j.job.status !== "running") ui.watching = null;
      }
      const s = await request("GET", "/api/state");
      setLive(true);
      render(s);
      busy = !!s.job || s.queued > 0 || !!ui.watching;
    } catch (err) {
      setLive(false);
    }
    pollTimer = setTimeout(poll, busy ? 300 : 1200);
  }

  // -- actions ------------------------------------------------------------------------------------------------
  function number(id) {
    const v = $(id).value.trim();
    return v === "" ? null : Number(v);
  }

  async function grow(directions) {
    hideError();
    const body = {
      directions, steps: number("steps"), prompt: $("prompt").value, generator: $("generator").value,
      seed: number("seed"), seam: $("seam").value,
    };
    try {
      const r = await request("POST", "/api/grow", body);
      ui.watching = r.job.id;
      ui.watched = r.job;
    } catch (err) {
      showError(err);
    }
    poll();
  }

  async function undoRedo(op) {
    hideError();
    // the canvas's very first image is not undone by accident: ask first (navigate.js's dialog)
    if (op === "undo" && ui.state && ui.state.head === 1 && ui.confirmFirstUndo && !(await ui.confirmFirstUndo())) return;
    try {
      await request("POST", "/api/" + op, { head: ui.state ? ui.state.head : undefined });
    } catch (err) {
      showError(err);
    }
    poll();
  }

  function selectedEdges() {
    return Array.from(document.querySelectorAll("input[name=edge]:checked")).map((c) => c.value);
  }

  function wire() {
    for (const b of document.querySelectorAll("button.extend")) b.addEventListener("click", () => grow([b.dataset.dir]));
    for (const c of document.querySelectorAll("input[name=edge]")) {
      c.addEventListener("change", () => {
        const n = selectedEdges().length;
        $("grow-batch").disabled = n === 0;
        $("grow-batch").textContent = n > 1 ? "Grow " + n + " edges" : "Grow selected edges";
      });
    }
    $("grow-batch").addEventListener("click", () => grow(selectedEdges()));
    $("undo").addEventListener("click", () => undoRedo("undo"));
    $("redo").addEventListener("click", () => undoRedo("redo"));
    $("error-close").addEventListener("click", hideError);
    $("generator").addEventListener("change", () => ui.state && renderGenerators(ui.state));
    $("fit").addEventListener("click", () => ui.viewer && ui.viewer.viewport.goHome());
    $("exact").addEventListener("change", () => ui.state && showCanvas(ui.state, true));
  }

  Object.assign(ui, { request, poll, showError, hideError, el });   // el: for generate.js too
  ui.actions = { grow, undoRedo, selectedEdges };   // for navigate.js (keyboard shortcuts)
  document.addEventListener("DOMContentLoaded", () => { wire(); poll(); });
})();
