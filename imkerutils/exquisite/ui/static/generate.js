// Generating where the user points (issue 15, points 1-3): draw a box on the viewer and see its plan, stage
// candidates and pick one in place, follow a job's tiles, phase and ETA, cancel. The plan, the snapping, costs,
// seam scores and the ETA all come from the server; this file only draws them and sends the user's choices.
// app.js owns the viewer and polling; it hands each /api/state to us as an "imker:state" event.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const ui = window.imkerUI;
  const PHASES = {
    generating: "generating",
    committing: "committing the step to the canvas\u2026",
    staging: "saving the candidates\u2026",
    cancelling: "cancelling\u2026",
  };
  const gen = {
    drawing: false,     // draw mode on
    drag: null,         // {x0, y0, x1, y1} world pixels while dragging
    box: null,          // the overlay element of the drawn / planned region
    target: null,       // the body of the planned request (region or stretch)
    plan: null,         // the server's plan of it
    shown: null,        // {proposal, candidate} on show over the canvas
    overlay: null,      // its <img> overlay
    stagedKey: null,    // signature of the staged list drawn
    pending: null,      // id of the generate job started from the plan on show
    followed: null,     // id of the running job whose progress was scrolled into view
    cancelled: new Set(), // ids of jobs this page cancelled, until they have stopped
    state: null,
  };
  window.imkerGenerate = gen; // for tests

  const el = ui.el; // app.js's element helper (app.js runs first: both scripts are deferred, in order)
  function num(id) {
    const v = $(id).value.trim();
    return v === "" ? null : Number(v);
  }
  function rectOf(r) { return new OpenSeadragon.Rect(r.x, r.y, r.width, r.height); }   // world px = viewport units
  function sizeText(r) { return r.width + "\u00a0\u00d7\u00a0" + r.height + " px at (" + r.x + ", " + r.y + ")"; }
  function seconds(s) {
    if (s === null || s === undefined) return null;
    if (s < 60) return Math.max(1, Math.round(s)) + " s";
    return Math.floor(s / 60) + " min " + Math.round(s % 60) + " s";
  }
  function settings() {
    return {
      prompt: $("prompt").value, generator: $("generator").value, seed: num("seed") || 0, seam: $("seam").value,
      candidates: num("candidates") || 1,
    };
  }
  async function send(method, path, body) {
    ui.hideError();
    try {
      return await ui.request(method, path, body);
    } catch (err) {
      ui.showError(err);
      return null;
    }
  }

  // -- the region box on the viewer --------------------------------------------------------------------------
  function showBox(r, planned) {
    if (!ui.viewer) return;
    if (!gen.box) {
      gen.box = el("div", "region-box");
      gen.box.id = "region-box";
      ui.viewer.addOverlay({ element: gen.box, location: rectOf(r) });
    } else {
      ui.viewer.updateOverlay(gen.box, rectOf(r));
    }
    gen.box.classList.toggle("planned", !!planned);
    gen.box.dataset.region = [r.x, r.y, r.width, r.height].join(",");
  }
  function clearBox() {
    if (gen.box && ui.viewer) ui.viewer.removeOverlay(gen.box);
    gen.box = null;
  }

  function worldPoint(e) {
    const rect = $("viewer").getBoundingClientRect();
    const p = ui.viewer.viewport.viewerElementToViewportCoordinates(
      new OpenSeadragon.Point(e.clientX - rect.left, e.clientY - rect.top));
    return [Math.round(p.x), Math.round(p.y)];
  }
  function dragRect(d) {
    const x = Math.min(d.x0, d.x1), y = Math.min(d.y0, d.y1);
    return { x, y, width: Math.max(1, Math.abs(d.x1 - d.x0)), height: Math.max(1, Math.abs(d.y1 - d.y0)) };
  }

  function setDrawing(on) {
    gen.drawing = on;
    $("draw").setAttribute("aria-pressed", String(on));
    $("draw").classList.toggle("active", on);
    $("viewer").classList.toggle("drawing", on);
    if (ui.viewer) ui.viewer.setMouseNavEnabled(!on);
  }

  function wireDrawing() {
    const viewer = $("viewer");
    // capture phase: while drawing, the viewer's own pan handlers never see these events
    viewer.addEventListener("pointerdown", (e) => {
      if (!gen.drawing || !ui.viewer || e.button !== 0) return;
      e.preventDefault();
      e.stopPropagation();
      const [x, y] = worldPoint(e);
      gen.drag = { x0: x, y0: y, x1: x, y1: y };
      showBox(dragRect(gen.drag), false);
    }, true);
    window.addEventListener("pointermove", (e) => {
      if (!gen.drag) return;
      e.preventDefault();
      [gen.drag.x1, gen.drag.y1] = worldPoint(e);
      showBox(dragRect(gen.drag), false);
    }, true);
    window.addEventListener("pointerup", (e) => {
      if (!gen.drag) return;
      e.preventDefault();
      e.stopPropagation();
      [gen.drag.x1, gen.drag.y1] = worldPoint(e);
      const r = dragRect(gen.drag);
      gen.drag = null;
      setDrawing(false);
      planFor({ region: r });
    }, true);
  }

  // -- the plan -----------------------------------------------------------------------------------------------
  async function planFor(target) {
    gen.target = target;
    const body = Object.assign({}, target, settings());
    const r = await send("POST", "/api/plan", body);
    if (!r) { clearPlan(); return; }
    gen.plan = r.plan;
    showBox(r.plan.region, true);
    renderPlan();
  }

  function renderPlan() {
    const p = gen.plan;
    if (!p) return;
    const facts = [
      ["Region", sizeText(p.region)],
      ["Tiles", p.tiles + (p.candidates > 1 ? " \u00d7 " + p.candidates + " candidates = " + p.tiles_total : "")],
      ["Generator calls", p.generator_calls + " at most (" + p.attempts + " attempt" + (p.attempts > 1 ? "s" : "") +
        " per tile)"],
      ["Worst-case cost", p.worst_case === null ? "unknown" : p.worst_case],
      ["Canvas after", p.bounds_after.width + "\u00a0\u00d7\u00a0" + p.bounds_after.height + " px"],
    ];
    $("plan-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", null, k), el("dd", null, v)]));
    const b = p.budget;
    const note = $("plan-budget");
    note.classList.toggle("over", !b.fits);
    note.textContent = b.budget_usd === null ? "No budget limit set."
      : b.fits ? "Fits the budget ($" + b.remaining_usd.toFixed(2) + " left)."
        : "Exceeds the budget: only $" + b.remaining_usd.toFixed(2) + " is left; the server will refuse it.";
    $("generate").textContent = "Generate " + p.candidates + " candidate" + (p.candidates > 1 ? "s" : "");
    $("plan").hidden = false;
    document.body.dataset.plan = JSON.stringify(p.region);
  }

  function clearPlan() {
    gen.plan = null;
    gen.target = null;
    $("plan").hidden = true;
    delete document.body.dataset.plan;
    clearBox();
  }

  async function generate() {
    if (!gen.target) return;
    const r = await send("POST", "/api/generate", Object.assign({}, gen.target, settings()));
    if (r) {
      gen.pending = r.job.id;   // the plan stays on show until its candidates are staged (or to retry)
      ui.watching = r.job.id;
      ui.watched = r.job;
    }
    ui.poll();
  }

  function renderPending(s) {
    $("generate").disabled = !!s.job || s.queued > 0;
    const j = gen.pending && s.jobs.find((x) => x.id === gen.pending);
    if (!j || j.status === "queued" || j.status === "running") return;
    gen.pending = null;
    if (j.status === "done") clearPlan();
  }

  function planStretch() {
    const target = { directions: [$("stretch-dir").value], by: num("stretch-by") || 512 };
    const start = num("stretch-start"), length = num("stretch-length");
    if (start !== null || length !== null) {
      const s = gen.state, b = s ? s.canvas.bounds : { row_off: 0, col_off: 0, height: 0, width: 0 };
      const vertical = target.directions[0] === "left" || target.directions[0] === "right";
      const from = start !== null ? start : (vertical ? b.row_off : b.col_off);
      const len = length !== null ? length : (vertical ? b.row_off + b.height : b.col_off + b.width) - from;
      target.along = [from, len];
    }
    planFor(target);
  }

  // -- the budget ---------------------------------------------------------------------------------------------
  function renderBudget(s) {
    const c = s.cost;
    $("budget-text").textContent = c.budget_usd === null ? "spent " + c.spent + ", no limit"
      : "spent " + c.spent + " of " + c.budget + " \u00b7 $" + c.remaining_usd.toFixed(2) + " left";
    const input = $("budget-input");
    if (document.activeElement !== input && input.dataset.shown !== String(c.budget_usd)) {
      input.value = c.budget_usd === null ? "" : String(c.budget_usd);
      input.dataset.shown = String(c.budget_usd);
    }
  }
  async function setBudget() {
    const v = $("budget-input").value.trim();
    const r = await send("POST", "/api/budget", { budget_usd: v === "" ? null : Number(v) });
    if (r && gen.target) planFor(gen.target);   // the plan's verdict follows the new limit
    ui.poll();
  }

  // -- staged candidates, shown in place ----------------------------------------------------------------------
  function showCandidate(p, c) {
    if (!ui.viewer) return;
    if (gen.overlay) ui.viewer.removeOverlay(gen.overlay);
    gen.overlay = null;
    gen.shown = null;
    if (p && c) {
      const img = el("img", "candidate-overlay");
      img.src = c.image;
      img.alt = "candidate " + (c.candidate + 1) + " in place";
      img.id = "candidate-overlay";
      img.dataset.proposal = p.id;
      img.dataset.candidate = String(c.candidate);
      ui.viewer.addOverlay({ element: img, location: rectOf(p.box) });
      gen.overlay = img;
      gen.shown = { proposal: p.id, candidate: c.candidate };
    }
    for (const b of document.querySelectorAll("#staged .cand")) {
      const on = !!gen.shown && b.dataset.proposal === gen.shown.proposal &&
        b.dataset.candidate === String(gen.shown.candidate);
      b.classList.toggle("shown", on);
      b.setAttribute("aria-pressed", String(on));
    }
  }

  async function accept(p, c) {
    const r = await send("POST", "/api/staged/" + p.id + "/accept", { candidate: c.candidate });
    if (r) { ui.watching = r.job.id; ui.watched = r.job; }
    ui.poll();
  }
  async function discard(p) {
    await send("POST", "/api/staged/" + p.id + "/discard", {});
    ui.poll();
  }
  async function tryMore(p) {
    const seeds = p.candidates.map((c) => c.seed);
    const body = Object.assign(settings(), {
      region: p.region, snap: false, prompt: p.prompt || "", candidates: p.candidates.length,
      seed: Math.max(...seeds) + 1,
    });
    const r = await send("POST", "/api/generate", body);
    if (r) { ui.watching = r.job.id; ui.watched = r.job; }
    ui.poll();
  }

  function renderStaged(s) {
    const key = JSON.stringify(s.staged.map((p) => [p.id, p.canvas_unchanged])) + "|" + !!s.job;
    if (key === gen.stagedKey) return;
    gen.stagedKey = key;
    const busy = !!s.job || s.queued > 0;
    $("staged-card").hidden = s.staged.length === 0;
    document.body.dataset.staged = String(s.staged.length);
    const blocks = s.staged.slice().reverse().map((p) => {
      const block = el("div", "proposal");
      block.dataset.proposal = p.id;
      const head = el("div", "proposal-head");
      head.append(el("span", "proposal-title", sizeText(p.region)));
      if (p.prompt) head.append(el("span", "proposal-prompt", "\u201c" + p.prompt + "\u201d"));
      if (!p.canvas_unchanged) head.append(el("span", "proposal-stale", "canvas changed since"));
      block.append(head);
      const strip = el("div", "cands");
      p.candidates.forEach((c) => {
        const card = el("div", "cand-card");
        const b = el("button", "cand");
        b.type = "button";
        b.dataset.proposal = p.id;
        b.dataset.candidate = String(c.candidate);
        b.setAttribute("aria-pressed", "false");
        b.title = "show candidate " + (c.candidate + 1) + " over the canvas";
        const img = el("img");
        img.src = c.image;
        img.alt = "candidate " + (c.candidate + 1);
        b.append(img);
        const facts = ["#" + (c.candidate + 1)];
        facts.push(c.seam_excess === null ? "seam n/a" : "seam " + c.seam_excess.toFixed(2));
        facts.push(c.cost);
        b.append(el("span", "cand-facts", facts.join(" \u00b7 ")));
        b.addEventListener("click", () => showCandidate(p, c));
        const ok = el("button", "accept primary", "Accept");
        ok.type = "button";
        ok.dataset.proposal = p.id;
        ok.dataset.candidate = String(c.candidate);
        ok.setAttribute("aria-label", "accept candidate " + (c.candidate + 1));
        ok.disabled = busy;
        ok.addEventListener("click", () => accept(p, c));
        card.append(b, ok);
        strip.append(card);
      });
      block.append(strip);
      const actions = el("div", "gen-row");
      const more = el("button", "try-more", "Try " + p.candidates.length + " more");
      more.type = "button";
      more.disabled = busy;
      more.addEventListener("click", () => tryMore(p));
      const drop = el("button", "discard", "Discard");
      drop.type = "button";
      drop.addEventListener("click", () => discard(p));
      actions.append(more, drop);
      block.append(actions);
      return block;
    });
    $("staged").replaceChildren(...blocks);
    // keep the candidate on show if it is still staged, else show the newest proposal's first candidate
    const all = s.staged;
    const still = gen.shown && all.find((p) => p.id === gen.shown.proposal);
    if (still) {
      showCandidate(still, still.candidates[gen.shown.candidate]);
    } else if (all.length) {
      const p = all[all.length - 1];
      showCandidate(p, p.candidates[0]);
    } else {
      showCandidate(null, null);
    }
    if (all.length && gen.box && !gen.plan) clearBox();
  }

  // -- progress: phase, ETA, cancel ---------------------------------------------------------------------------
  function renderProgress(s) {
    const job = s.job;
    const queued = s.jobs.filter((j) => j.status === "queued");
    $("cancel-job").hidden = !job;
    $("cancel-job").disabled = !!job && job.phase === "cancelling";
    $("cancel-queued").hidden = queued.length === 0;
    $("cancel-queued").textContent = "Cancel queued (" + queued.length + ")";
    document.body.dataset.phase = job ? job.phase : "";
    if (!job) return;
    if (gen.followed !== job.id) {   // bring a newly started job's progress into view once
      gen.followed = job.id;
      $("status-card").scrollIntoView({ block: "nearest" });
    }
    const text = $("progress-text");
    const parts = [];
    if (job.kind === "generate") parts.push(job.candidates + " candidate" + (job.candidates > 1 ? "s" : ""));
    if (job.kind === "accept") parts.push("accepting candidate " + (job.candidate + 1));
    if (job.phase !== "generating") parts.push(PHASES[job.phase] || job.phase);
    else if (job.eta_s !== null) parts.push("about " + seconds(job.eta_s) + " left");
    else parts.push("measuring tile time\u2026");
    text.textContent = text.textContent + " \u00b7 " + parts.join(" \u00b7 ");
    text.dataset.phase = job.phase;
  }

  async function cancelJob(id) {
    gen.cancelled.add(id);
    await send("POST", "/api/jobs/" + id + "/cancel", {});
    ui.poll();
  }

  function renderCancelled(s) {
    for (const j of s.jobs) {
      if (!gen.cancelled.has(j.id) || j.status === "queued" || j.status === "running") continue;
      gen.cancelled.delete(j.id);
      if (j.status === "cancelled") $("cancel-note").hidden = false;
    }
    if (s.job && !gen.cancelled.has(s.job.id)) $("cancel-note").hidden = true;   // a new job runs
  }

  function onState(e) {
    const s = e.detail;
    gen.state = s;
    renderBudget(s);
    renderStaged(s);
    renderProgress(s);
    renderCancelled(s);
    renderPending(s);
  }

  function wire() {
    wireDrawing();
    $("draw").addEventListener("click", () => setDrawing(!gen.drawing));
    $("generate").addEventListener("click", generate);
    $("clear-plan").addEventListener("click", clearPlan);
    $("plan-stretch").addEventListener("click", planStretch);
    $("budget-set").addEventListener("click", setBudget);
    $("candidates").addEventListener("change", () => gen.target && planFor(gen.target));
    $("cancel-job").addEventListener("click", () => gen.state && gen.state.job && cancelJob(gen.state.job.id));
    $("cancel-queued").addEventListener("click", () => {
      for (const j of (gen.state ? gen.state.jobs : []).filter((x) => x.status === "queued")) cancelJob(j.id);
    });
    document.addEventListener("keydown", (e) => { if (e.key === "Escape" && gen.drawing) setDrawing(false); });
    document.addEventListener("imker:state", onState);
  }

  document.addEventListener("DOMContentLoaded", wire);
})();
