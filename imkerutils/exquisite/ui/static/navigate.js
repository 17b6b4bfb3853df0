// Finding your way and the keyboard: history entries fly to their region, 1:1 where there is content, a
// small toggleable overview map, zoom buttons that are real buttons, a confirm before undoing the first
// image, and the shortcuts (Ctrl/Cmd+Z, Ctrl/Cmd+Shift+Z, G + arrow, ?).  app.js owns the state and requests;
// this file only listens to its "imker:state" / "imker:viewer" events and calls window.imkerUI.actions.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const ui = window.imkerUI;
  const DIRS = { ArrowUp: "up", ArrowLeft: "left", ArrowRight: "right", ArrowDown: "down" };
  let outline = null;   // the overlay element outlining a step's region
  let growArmed = false;

  // viewport coordinates are world coordinates: app.js places the image at the frame's world origin
  const rectOf = (r) => new OpenSeadragon.Rect(r.col_off, r.row_off, r.width, r.height);

  // -- history: fly to a step's region and outline it -----------------------------------------------------------
  function stepEntry(number) {
    const s = ui.state;
    return s && s.history.find((h) => h.number === number);
  }

  function showRegion(number) {
    const h = stepEntry(number);
    if (!h || !h.region || !ui.viewer) return;
    const r = rectOf(h.region), pad = Math.max(r.width, r.height) * 0.1;
    ui.viewer.viewport.fitBounds(new OpenSeadragon.Rect(r.x - pad, r.y - pad, r.width + 2 * pad, r.height + 2 * pad));
    if (outline) ui.viewer.removeOverlay(outline);
    outline = document.createElement("div");
    outline.className = "region-outline";
    outline.setAttribute("aria-hidden", "true");
    ui.viewer.addOverlay({ element: outline, location: r });
    document.body.dataset.outlined = String(number);
    for (const b of document.querySelectorAll("#history button.entry")) {
      b.setAttribute("aria-current", b.dataset.step === String(number) ? "true" : "false");
    }
    hint("Showing the region of step #" + number);
  }

  // -- 1:1 where the user looks at content -------------------------------------------------------------------
  function contentRects(s) {
    const rects = s.history.map((h) => h.region).filter(Boolean).map(rectOf);
    if (!rects.length && s.canvas.width > 0) rects.push(rectOf(s.canvas.bounds));
    return rects;
  }

  // the point of the content nearest to p (p itself when it lies on content)
  function nearestContent(p, rects) {
    let best = null, bestD = Infinity;
    for (const r of rects) {
      const x = Math.min(Math.max(p.x, r.x), r.x + r.width), y = Math.min(Math.max(p.y, r.y), r.y + r.height);
      const d = (x - p.x) ** 2 + (y - p.y) ** 2;
      if (d < bestD) { bestD = d; best = new OpenSeadragon.Point(x, y); }
      if (d === 0) break;
    }
    return best;
  }

  function actualSize() {
    if (!ui.item || !ui.state) return;
    const vp = ui.viewer.viewport, rects = contentRects(ui.state);
    const target = rects.length ? nearestContent(vp.getCenter(), rects) : vp.getCenter();
    vp.panTo(target);
    vp.zoomTo(ui.item.imageToViewportZoom(1), target);
  }

  // -- the overview map ----------------------------------------------------------------------------------------
  function setMap(shown) {
    const nav = ui.viewer && ui.viewer.navigator;
    if (nav) nav.element.style.display = shown ? "" : "none";
    $("map-toggle").setAttribute("aria-pressed", String(shown));
    document.body.dataset.map = String(shown);
  }

  function onViewer() {
    const v = ui.viewer;
    const nav = v.navigator;
    if (nav) {   // a mouse aid duplicating the viewer: out of the tab order and of the accessibility tree
      nav.element.tabIndex = -1;
      nav.element.setAttribute("aria-hidden", "true");
      for (const e of nav.element.querySelectorAll("[tabindex]")) e.tabIndex = -1;
    }
    v.canvas.setAttribute("role", "application");
    v.canvas.setAttribute("aria-label", "Canvas viewer: arrow keys or W A S D pan, + and - zoom, 0 fits");
    v.canvas.setAttribute("aria-roledescription", "image viewer");
    setMap(!window.matchMedia("(max-width: 600px)").matches);   // a phone needs the whole width for the image
  }

  // -- confirm before undoing the first image ---------------------------------------------------------------
  ui.confirmFirstUndo = function () {
    const dialog = $("confirm-first");
    return new Promise((resolve) => {
      const done = (ok) => {
        $("confirm-first-ok").removeEventListener("click", yes);
        $("confirm-first-cancel").removeEventListener("click", no);
        dialog.removeEventListener("close", no);
        if (dialog.open) dialog.close();
        resolve(ok);
      };
      const yes = () => done(true), no = () => done(false);
      $("confirm-first-ok").addEventListener("click", yes);
      $("confirm-first-cancel").addEventListener("click", no);
      dialog.addEventListener("close", no);
      dialog.showModal();
      $("confirm-first-cancel").focus();
    });
  };

  // -- keyboard ------------------------------------------------------------------------------------------------
  function hint(text) { $("key-hint").textContent = text; }

  function editable(t) {
    return t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));
  }

  function toggleShortcuts() {
    const d = $("shortcuts");
    if (d.open) d.close(); else d.showModal();
  }

  function onKey(e) {
    if (document.querySelector("dialog[open]")) return;   // a dialog handles its own keys (Esc closes it)
    const mod = e.ctrlKey || e.metaKey, key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    if (mod && !e.altKey && (key === "z" || key === "y")) {
      if (editable(e.target)) return;   // text fields keep their own undo
      e.preventDefault();
      e.stopPropagation();
      const redo = key === "y" || e.shiftKey;
      const button = $(redo ? "redo" : "undo");
      if (!button.disabled) ui.actions.undoRedo(redo ? "redo" : "undo");
      return;
    }
    if (mod || e.altKey || editable(e.target)) return;
    if (growArmed) {
      const dir = DIRS[e.key];
      if (dir || e.key === "Enter" || e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        growArmed = false;
        if (e.key === "Escape") { hint("Grow cancelled"); return; }
        const dirs = dir ? [dir] : ui.actions.selectedEdges();
        if (!dirs.length) { hint("No edge is ticked"); return; }
        hint("Growing " + dirs.join(" + ") + "\u2026");
        ui.actions.grow(dirs);
        return;
      }
      growArmed = false;
      hint("");
    }
    const handled = {
      "?": toggleShortcuts,
      g: () => { growArmed = true; hint("Grow which edge? Press \u2190 \u2191 \u2192 \u2193 (Enter: the ticked edges, Esc: cancel)"); },
      m: () => setMap(document.body.dataset.map !== "true"),
      1: actualSize,
      0: () => ui.viewer && ui.viewer.viewport.goHome(),
      "+": () => zoomBy(1.5),
      "=": () => zoomBy(1.5),
      "-": () => zoomBy(1 / 1.5),
    }[key];
    if (handled) {
      e.preventDefault();
      e.stopPropagation();
      handled();
    }
  }

  function zoomBy(factor) {
    if (!ui.viewer) return;
    ui.viewer.viewport.zoomBy(factor);
    ui.viewer.viewport.applyConstraints();
  }

  function wire() {
    $("history").addEventListener("click", (e) => {
      const b = e.target.closest("button.entry");
      if (b) showRegion(Number(b.dataset.step));
    });
    $("actual").addEventListener("click", actualSize);
    $("zoom-in").addEventListener("click", () => zoomBy(1.5));
    $("zoom-out").addEventListener("click", () => zoomBy(1 / 1.5));
    $("map-toggle").addEventListener("click", () => setMap(document.body.dataset.map !== "true"));
    $("shortcuts-open").addEventListener("click", toggleShortcuts);
    $("shortcuts-close").addEventListener("click", () => $("shortcuts").close());
    document.addEventListener("keydown", onKey, true);   // capture: before the viewer's own arrow keys
  }

  document.addEventListener("imker:viewer", onViewer);
  document.addEventListener("imker:state", (e) => {
    const s = e.detail;
    if (!growArmed && !s.job && !s.queued && !ui.watching) hint("");   // announced; now out of the way
    // an outline whose step was undone goes away
    const n = Number(document.body.dataset.outlined || 0);
    if (outline && !stepEntry(n)) {
      ui.viewer.removeOverlay(outline);
      outline = null;
      delete document.body.dataset.outlined;
    }
  });
  document.addEventListener("DOMContentLoaded", wire);
})();
