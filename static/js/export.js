// "Download all" (batch page) and "Download selected" (history): mint a short-lived link by
// POST, show the archive's size, warn when it is large, then start the download.
(() => {
  const H = window.HeyGem;
  const panel = document.getElementById("export-panel");
  if (!panel) return;

  function show(data) {
    const minutes = Math.round(data.expires_in / 60);
    const link = H.el("a", { class: "button primary", href: data.url, id: "export-link", "data-size": String(data.size) },
      data.warning ? "Download anyway" : "Download");
    panel.replaceChildren(
      H.el("p", { id: "export-summary" },
        H.el("strong", { text: data.filename }), ` · ${data.size_label} · link valid for ${minutes} min`),
      data.warning ? H.el("p", { class: "warning", id: "export-warning", text: data.warning }) : null,
      link,
    );
    panel.hidden = false;
    // Small enough: one click is enough. Large: the user reads the warning and clicks again.
    if (!data.warning) window.location.assign(data.url);
  }

  async function mint(url, body) {
    panel.hidden = false;
    panel.replaceChildren(H.el("p", { class: "muted", text: "Preparing your download link…" }));
    const response = await fetch(url, {
      method: "POST", body, credentials: "same-origin",
      headers: { "X-CSRFToken": H.csrf(), Accept: "application/json" },
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const message = (data.error && data.error.message) || "The download link could not be made. Reload the page and try again.";
      panel.replaceChildren(H.el("p", { class: "error", text: message }));
      return;
    }
    show(data);
  }

  const all = document.getElementById("download-all");
  if (all) {
    all.closest("form").addEventListener("submit", (e) => {
      e.preventDefault();
      const body = new FormData();
      const status = (document.getElementById("batch-status").textContent || "").trim();
      if (status === "queued" || status === "running") {
        const onlyFinished = confirm(
          "This batch is still rendering. Include only the videos that are finished?\n\n" +
          "OK: only finished videos are listed and packed.\n" +
          "Cancel: the finished videos are packed and the unfinished ones are listed in the manifest as not ready.");
        body.append("finished_only", onlyFinished ? "1" : "0");
      }
      mint(all.closest("form").action, body);
    });
  }

  const selected = document.getElementById("download-selected");
  if (selected) {
    const boxes = () => [...document.querySelectorAll("input[name=batch]")].filter((b) => b.checked);
    document.getElementById("history-form").addEventListener("change", () => { selected.disabled = boxes().length === 0; });
    selected.addEventListener("click", (e) => {
      e.preventDefault();
      const body = new FormData();
      boxes().forEach((b) => body.append("batch", b.value));
      mint(selected.getAttribute("formaction"), body);
    });
  }
})();
