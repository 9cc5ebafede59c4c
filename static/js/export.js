// "Download all" (batch page) and "Download selected" (history): mint a short-lived link by
// POST, show the archive's size, warn when it is large, then start the download.
(() => {
  const H = window.HeyGem;
  const panel = document.getElementById("export-panel");
  if (!panel) return;

  function show(data) {
    const minutes = Math.round(data.expires_in / 60);
    const link = H.el("a", { class: "button primary", href: data.url, id: "export-link", "data-size": String(data.size) },
      data.warning ? gettext("Download anyway") : gettext("Download"));
    panel.replaceChildren(
      H.el("p", { id: "export-summary" },
        H.el("strong", { text: data.filename }), " · ",
        interpolate(gettext("%(size)s · link valid for %(minutes)s min"), { size: H.size(data.size), minutes }, true)),
      // replaceChildren() would write a null out as the text "null": leave it out instead.
      ...(data.warning ? [H.el("p", { class: "warning", id: "export-warning", text: data.warning })] : []),
      link,
    );
    panel.hidden = false;
    // Small enough: one click is enough. Large: the user reads the warning and clicks again.
    if (!data.warning) window.location.assign(data.url);
  }

  async function mint(url, body) {
    panel.hidden = false;
    panel.replaceChildren(H.el("p", { class: "muted", text: gettext("Preparing your download link…") }));
    const response = await fetch(url, {
      method: "POST", body, credentials: "same-origin",
      headers: { "X-CSRFToken": H.csrf(), Accept: "application/json" },
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const message = (data.error && data.error.message) || gettext("The download link could not be made. Reload the page and try again.");
      panel.replaceChildren(H.el("p", { class: "error", text: message }));
      return;
    }
    show(data);
  }

  // A batch still rendering: say what each choice holds and let the user pick with a
  // labelled button (a confirm() box's OK/Cancel hid the second choice behind "Cancel").
  const FINISHED = ["succeeded", "failed", "canceled"];
  function ask(action) {
    const cards = [...document.querySelectorAll("[data-testid=job-card]")];
    const finished = cards.filter((c) => FINISHED.includes(c.dataset.status)).length;
    const pending = cards.length - finished;
    const choose = (onlyFinished) => {
      const body = new FormData();
      body.append("finished_only", onlyFinished ? "1" : "0");
      mint(action, body);
    };
    const only = H.el("button", { type: "button", class: "primary", id: "export-finished-only" }, interpolate(gettext("Only finished (%s)"), [finished]));
    const every = H.el("button", { type: "button", id: "export-everything" }, interpolate(gettext("Everything (%s)"), [cards.length]));
    if (!finished) only.disabled = true;
    only.addEventListener("click", () => choose(true));
    every.addEventListener("click", () => choose(false));
    panel.replaceChildren(
      H.el("p", { id: "export-question", text: interpolate(gettext("This batch is still rendering: %(finished)s of %(total)s videos are finished. What should the download hold?"), { finished, total: cards.length }, true) }),
      H.el("ul", { class: "muted" },
        H.el("li", { text: gettext("Only finished: the finished videos, with a manifest that lists only them.") }),
        H.el("li", { text: interpolate(ngettext("Everything: the same videos, with a manifest that also lists the %s unfinished one as not ready yet.", "Everything: the same videos, with a manifest that also lists the %s unfinished ones as not ready yet.", pending), [pending]) })),
      H.el("div", { class: "row" }, only, every),
    );
    panel.hidden = false;
    only.focus();
  }

  const all = document.getElementById("download-all");
  if (all) {
    all.closest("form").addEventListener("submit", (e) => {
      e.preventDefault();
      const action = all.closest("form").action;
      const status = document.getElementById("batch-status").dataset.status || "";
      if (status === "queued" || status === "running") ask(action);
      else mint(action, new FormData());
    });
  }

  // History: one click on a row's 📦 mints that batch's link and starts the download.
  document.querySelectorAll("button[data-export-url]").forEach((button) => {
    button.addEventListener("click", () => {
      panel.scrollIntoView({ block: "nearest" });
      mint(button.dataset.exportUrl, new FormData());
    });
  });

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
