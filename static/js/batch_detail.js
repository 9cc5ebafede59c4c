// Batch page: "X / Y done" with a bar and time left, one card per job, updated live by
// polling the small progress endpoint until nothing is queued or running.
(() => {
  const H = window.HeyGem;
  const url = document.getElementById("batch-script").dataset.progressUrl;
  const cards = document.getElementById("job-cards");
  const byId = new Map();
  const STATUS = {
    queued: gettext("Queued"), running: gettext("Rendering"), done: gettext("Done"),
    "done with failures": gettext("Done with failures"), canceled: gettext("Canceled"),
  };

  function summary(s) {
    let text = interpolate(gettext("%(done)s / %(total)s done"), { done: s.done, total: s.total }, true);
    if (s.failed) text += interpolate(ngettext(", %(n)s failed", ", %(n)s failed", s.failed), { n: s.failed }, true);
    if (s.canceled) text += interpolate(ngettext(", %(n)s canceled", ", %(n)s canceled", s.canceled), { n: s.canceled }, true);
    return text;
  }

  function postButton(action, label, cls, confirmText) {
    const f = H.el("form", { method: "post", action, class: "inline" });
    f.append(H.el("input", { type: "hidden", name: "csrfmiddlewaretoken", value: H.csrf() }));
    const b = H.el("button", { type: "submit", class: cls || "", text: label });
    f.append(b);
    if (confirmText) f.addEventListener("submit", (e) => { if (!confirm(confirmText)) e.preventDefault(); });
    return f;
  }

  // The result's measured quality: a sync figure, and "please review" with reasons in words.
  function quality(box, q) {
    box.replaceChildren();
    box.hidden = !q;
    if (!q) return;
    box.append(H.el("span", { class: "badge", title: q.sync_title, text: q.sync_label }));
    if (q.review) {
      box.append(H.el("span", { class: "badge review", "data-testid": "review-badge", text: q.review_label }));
      const list = H.el("ul");
      for (const reason of q.reasons) list.append(H.el("li", { text: reason }));
      box.append(list);
    }
  }

  function card(job) {
    let c = byId.get(job.id);
    if (!c) {
      c = {
        root: H.el("article", { class: "card job", "data-testid": "job-card", "data-job": job.id }),
        status: H.el("span", { class: "badge" }),
        bar: H.el("div", { class: "progress" }, H.el("span", { style: "width:0%" })),
        media: H.el("div", { class: "media" }),
        error: H.el("p", { class: "field-error", role: "alert" }),
        quality: H.el("div", { class: "quality", "data-testid": "job-quality" }),
        actions: H.el("div", { class: "row actions" }),
        log: H.el("pre", { class: "joblog" }),
        key: "",
      };
      const head = H.el("div", { class: "row" }, H.el("strong", { text: `#${job.position} ${job.template_name}` }), H.el("span", { class: "spacer" }), c.status);
      const details = H.el("details", {}, H.el("summary", { text: gettext("Log") }), c.log);
      c.root.append(c.media, head, c.bar, c.quality, c.error, c.actions, details);
      cards.append(c.root);
      byId.set(job.id, c);
    }
    c.status.className = `badge ${job.status}`;
    c.status.textContent = job.status === "running" ? `${job.status_label} ${Math.round(job.progress * 100)}%` : job.status_label;
    c.root.dataset.status = job.status;
    c.bar.firstChild.style.width = `${Math.round((job.status === "succeeded" ? 1 : job.progress) * 100)}%`;
    c.bar.className = `progress ${job.status === "succeeded" ? "ok" : job.status === "failed" ? "bad" : ""}`;
    c.error.textContent = job.error_message && job.status !== "succeeded" ? job.error_message : "";
    c.error.hidden = !c.error.textContent;
    c.log.textContent = job.log || gettext("(nothing yet)");
    quality(c.quality, job.quality_view);
    // Rebuild media and buttons only when what they depend on changes (keeps the player playing).
    const key = `${job.status}|${job.video_url}|${job.retry_blocked || ""}`;
    if (key !== c.key) {
      c.key = key;
      c.media.replaceChildren();
      if (job.video_url) {
        // A poster frame (the template's thumbnail: the same shot, before the mouth was
        // redone), so a phone that loads no video data until play shows a picture, not black.
        const attrs = { src: job.video_url, controls: "", preload: "metadata", playsinline: "", "data-testid": "job-video" };
        if (job.thumbnail_url) attrs.poster = job.thumbnail_url;
        c.media.append(H.el("video", attrs));
      } else if (job.thumbnail_url) {
        c.media.append(H.el("img", { class: "thumb", src: job.thumbnail_url, alt: "" }));
      }
      c.actions.replaceChildren();
      if (job.download_url) c.actions.append(H.el("a", { class: "button", href: job.download_url, text: interpolate(gettext("Download (%s)"), [H.size(job.output_size)]) }));
      if (job.status === "failed" || job.status === "canceled") {
        // A retry that cannot succeed (the template has no usable face) is not offered; the card says why.
        if (job.retry_blocked) c.actions.append(H.el("small", { class: "muted", "data-testid": "retry-blocked", text: job.retry_blocked }));
        else c.actions.append(postButton(job.retry_url, gettext("Retry")));
      }
      if (!["queued", "running"].includes(job.status)) c.actions.append(postButton(job.delete_url, gettext("Delete"), "danger",
        // Only a finished job has a video to lose; a failed or canceled one is just its entry.
        job.status === "succeeded" ? gettext("Delete this video?")
          : job.status === "failed" ? gettext("Remove this failed item from the batch? No video was made for it.")
            : gettext("Remove this canceled item from the batch?")));
    }
  }

  function render(s) {
    document.getElementById("batch-count").textContent = summary(s);
    const st = document.getElementById("batch-status");
    st.textContent = STATUS[s.status] || s.status; st.dataset.status = s.status;
    st.className = `badge ${s.status.replace(/ /g, "-")}`;
    document.querySelector("#batch-progress > span").style.width = `${Math.round(s.progress * 100)}%`;
    // Finished: green when every video is done, red when some failed (blue while rendering).
    // grey when nothing was made because it was canceled (not a blue bar that looks in progress).
    document.getElementById("batch-progress").className = `progress big ${s.active ? "" : s.failed ? "bad" : s.done ? "ok" : s.canceled ? "stopped" : ""}`;
    const eta = document.getElementById("batch-eta");
    eta.textContent = s.active
      ? (s.eta_seconds == null ? gettext("Estimating time left…") : interpolate(gettext("About %s left"), [H.duration(s.eta_seconds)]))
      : interpolate(gettext("%s of videos"), [H.size(s.output_bytes)]);
    // The ZIP's size moves as videos finish or are deleted: keep the button's label true.
    if (s.export_bytes != null) {
      const all = document.getElementById("download-all");
      all.dataset.size = String(s.export_bytes);
      const size = document.getElementById("export-size");
      size.textContent = `(${H.size(s.export_bytes)})`;
      // Nothing finished, nothing to download (a ZIP of manifests only helps nobody).
      all.disabled = !s.done; size.hidden = !s.done;
      all.title = s.done ? all.dataset.ready : all.dataset.nothing;
    }
    document.getElementById("cancel-batch").hidden = !s.active;
    document.getElementById("retry-failed").hidden = !(s.retryable != null ? s.retryable : (s.failed || s.canceled));
    const seen = new Set();
    for (const job of s.jobs) { card(job); seen.add(job.id); }
    for (const [id, c] of byId) if (!seen.has(id)) { c.root.remove(); byId.delete(id); }
    refreshWords(s);
    return s.active > 0;
  }

  // The transcript is made before the first video renders: once a job has left the queue
  // (or none is left), fetch this page again and swap in its Words card.
  let wordsAsked = false;
  async function refreshWords(s) {
    const words = document.getElementById("transcript");
    if (!words || !words.dataset.pending || wordsAsked) return;
    if (s.active && s.jobs.every((j) => j.status === "queued")) return;
    wordsAsked = true;
    try {
      const res = await fetch(location.href, { credentials: "same-origin", cache: "no-store" });
      const fresh = new DOMParser().parseFromString(await res.text(), "text/html").getElementById("transcript");
      if (fresh) words.replaceWith(fresh);
    } catch (_) { /* the reload link in the card still works */ }
  }

  async function poll() {
    let again = true;
    try {
      const res = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (res.ok) again = render(await res.json());
    } catch (_) { /* network hiccup: keep polling */ }
    if (again) setTimeout(poll, 1500);
  }

  document.querySelectorAll("form[data-confirm]").forEach((f) =>
    f.addEventListener("submit", (e) => { if (!confirm(f.dataset.confirm)) e.preventDefault(); }));
  if (render(JSON.parse(document.getElementById("batch-state").textContent))) setTimeout(poll, 1000);
})();
