// Export and download (issue 15, point 4): asks the server for a PNG or TIFF of the canvas or of a region,
// shows its progress and downloads the finished file. window.imkerExport.setRegion(x, y, w, h) fills the region.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const status = (text) => { $("export-status").textContent = text; };

  async function call(method, path, body) {
    const init = { method, cache: "no-store", headers: {} };
    if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    const res = await fetch(path, init);
    const data = await res.json().catch(() => null);
    if (!res.ok) throw (data && data.error) || { title: "The server answered " + res.status, detail: "" };
    return data;
  }

  function region() {
    if ($("export-area").value !== "region") return null;
    const n = (id) => Number($(id).value);
    return { x: n("export-x"), y: n("export-y"), width: n("export-w"), height: n("export-h") };
  }

  async function start() {
    $("export-download").disabled = true;
    try {
      let job = (await call("POST", "/api/export", { format: $("export-format").value, region: region() })).export;
      while (job.status === "queued" || job.status === "running") {
        status("Exporting\u2026 " + Math.round(job.progress * 100) + "%");
        await new Promise((r) => setTimeout(r, 300));
        job = (await call("GET", "/api/exports/" + job.id)).export;
      }
      if (job.status !== "done") throw job.error || { title: "The export failed", detail: "" };
      const a = document.createElement("a");
      a.href = job.url; a.download = job.filename; document.body.appendChild(a); a.click(); a.remove();
      status("Downloaded " + job.filename);
    } catch (err) {
      status((err.title || "The export failed") + (err.detail ? ": " + err.detail : ""));
    } finally {
      $("export-download").disabled = false;
    }
  }

  function setRegion(x, y, w, h) {
    $("export-area").value = "region";
    [["export-x", x], ["export-y", y], ["export-w", w], ["export-h", h]].forEach(([id, v]) => { $(id).value = v; });
  }

  window.imkerExport = { setRegion, start };
  document.addEventListener("DOMContentLoaded", () => { $("export-download").addEventListener("click", start); });
})();
