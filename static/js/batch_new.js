// New batch page: drag-and-drop uploads with per-file progress, server-side probing, local
// previews (play the audio, play a template), and a "Start batch" button that waits for
// uploads to finish and counts exactly the templates that will be rendered.
(() => {
  const H = window.HeyGem;
  const form = document.getElementById("batch-form");
  const start = document.getElementById("start-batch");
  const hint = document.getElementById("start-hint");
  const maxUpload = Number(form.dataset.maxUpload);
  let uploading = 0;
  const pendingFace = new Map();
  // The same sentence as the Templates page (the face check's own, by its code), and what
  // it means here.
  const NOT_IN_BATCH = gettext("It will not be in this batch.");
  const faceLabels = { who: form.dataset.faceWho, pick: form.dataset.facePick, face: form.dataset.faceFace };

  function addPicker(badge, t) {
    const picker = H.facePicker && H.facePicker(t, faceLabels);
    if (picker) badge.after(picker);
  }

  function refresh() {
    const hasAudio = !!form.querySelector("input[name=audio]:checked, input[name=audio][type=hidden]");
    const nTemplates = form.querySelectorAll("input[name=templates]:checked").length;
    start.disabled = uploading > 0 || !hasAudio || nTemplates === 0;
    hint.textContent = uploading > 0 ? interpolate(ngettext("Waiting for %s upload to finish…", "Waiting for %s uploads to finish…", uploading), [uploading])
      : !hasAudio ? gettext("Add an audio file to start.")
      : nTemplates === 0 ? gettext("Add at least one template video.")
      : interpolate(ngettext("%s video will speak this audio.", "%s videos will speak this audio.", nTemplates), [nTemplates]);
  }

  function upload(url, file, onProgress) {
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      const data = new FormData();
      data.append("file", file);
      xhr.open("POST", url);
      xhr.setRequestHeader("X-CSRFToken", H.csrf());
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
      xhr.onload = () => {
        let body = {};
        try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
        if (xhr.status >= 200 && xhr.status < 300) resolve({ ok: true, body });
        else resolve({ ok: false, message: (body.error && body.error.message) || interpolate(gettext("Upload failed (HTTP %s). Try again."), [xhr.status]) });
      };
      xhr.onerror = () => resolve({ ok: false, message: gettext("The connection dropped during the upload. Check your network and try again.") });
      xhr.send(data);
    });
  }

  function tooBig(file) {
    return file.size > maxUpload
      ? interpolate(gettext("This file is %(size)s; the upload limit is %(limit)s. Upload a shorter or smaller file."), { size: H.size(file.size), limit: H.size(maxUpload) }, true) : "";
  }

  function progressBar() {
    const bar = H.el("div", { class: "progress" }, H.el("span", { style: "width:0%" }));
    return { bar, set: (f) => { bar.firstChild.style.width = `${Math.round(f * 100)}%`; } };
  }

  function dismissButton(card) {
    const dismiss = H.el("button", { type: "button", class: "link-dark", text: gettext("Dismiss") });
    dismiss.onclick = () => card.remove();
    return dismiss;
  }

  // --- audio ---
  const audioList = document.getElementById("audio-uploads");
  async function addAudio(file) {
    audioList.replaceChildren();
    form.querySelectorAll("input[name=audio][type=hidden]").forEach((n) => n.remove());
    const p = progressBar();
    const item = H.el("li", { class: "upload", "data-testid": "audio-upload" }, H.el("strong", { text: file.name }), p.bar);
    audioList.append(item);
    const problem = tooBig(file);
    if (problem) { item.append(H.el("p", { class: "field-error", text: problem })); return; }
    uploading++; refresh();
    const res = await upload(form.dataset.audioUrl, file, p.set);
    uploading--;
    if (res.ok) {
      p.set(1); p.bar.classList.add("ok");
      item.append(H.el("small", { class: "muted", text: ` ${H.duration(res.body.duration)} · ${res.body.sample_rate} Hz · ${H.size(res.body.size)}` }));
      // Listen before starting: the browser plays the file it already has, no download.
      item.append(H.el("audio", { controls: "", preload: "metadata", src: URL.createObjectURL(file), "data-testid": "audio-preview" }));
      form.querySelectorAll("input[name=audio][type=radio]").forEach((r) => { r.checked = false; });
      form.append(H.el("input", { type: "hidden", name: "audio", value: res.body.id }));
    } else {
      p.bar.classList.add("bad");
      item.append(H.el("p", { class: "field-error", role: "alert", text: res.message }));
    }
    refresh();
  }

  // --- templates ---
  const cards = document.getElementById("template-cards");
  const queue = [];
  let active = 0;
  function pump() {
    while (active < 2 && queue.length) { active++; queue.shift()().finally(() => { active--; pump(); }); }
  }

  function faceBadge(t) {
    const labels = { pending: gettext("Checking the face…"), ready: gettext("Face found"), failed: gettext("No usable face") };
    return H.el("span", { class: `badge ${t.face_status}`, title: t.face_error || "", text: labels[t.face_status] || t.face_status });
  }

  // A template whose face check failed cannot be rendered: take it out of the batch and say so.
  // The server's own sentence when it has one (too little usable face says how much).
  function markNoFace(card, t) {
    const box = card.querySelector("input[name=templates]");
    if (box) box.checked = false;
    card.classList.add("rejected");
    if (!card.querySelector("[data-testid=no-face]")) {
      const why = (t && t.face_error) || gettext("No usable face was found in this video.");
      card.append(H.el("p", { class: "field-error", "data-testid": "no-face", text: `${why} ${NOT_IN_BATCH}` }));
    }
    refresh();
  }

  // Advice that does not stop the render (a clip that never opens its mouth).
  function noteFace(card, t) {
    if (t.face_note && !card.querySelector("[data-testid=face-note]")) {
      card.append(H.el("p", { class: "muted", "data-testid": "face-note", text: t.face_note }));
    }
  }

  function preview(card, file, t) {
    const attrs = { class: "thumb", controls: "", preload: "metadata", playsinline: "", muted: "", src: URL.createObjectURL(file), "data-testid": "template-preview" };
    if (t.thumbnail_url) attrs.poster = t.thumbnail_url;
    card.prepend(H.el("video", attrs));
  }

  function alreadyHere(card, p, file, t, existing) {
    p.bar.remove();
    const pick = existing.closest(".pick");
    if (pick) {
      // Already in the library (the server stored it once): dropping it again selects it.
      preview(card, file, t);
      card.append(H.el("small", { class: "muted", text: `${H.duration(t.duration)} · ${t.width}×${t.height} · ${H.size(t.size)} ` }), faceBadge(t));
      if (t.face_status === "failed") { markNoFace(card, t); card.append(dismissButton(card)); return; }
      noteFace(card, t);
      existing.checked = true;
      card.append(H.el("p", { class: "muted", "data-testid": "library-selected", text: interpolate(gettext("Already in your library as “%s”: selected for this batch."), [t.name]) }));
      const remove = H.el("button", { type: "button", class: "link-dark", text: gettext("Remove") });
      remove.onclick = () => { existing.checked = false; card.remove(); refresh(); };
      card.append(remove);
      card.dataset.templateId = t.id;
      return;
    }
    // The same content dropped twice on this page: it is in the batch once.
    const first = existing.closest(".card");
    const firstName = first && first.querySelector(".name") ? first.querySelector(".name").textContent : t.name;
    if (!existing.disabled && !(first && first.classList.contains("rejected"))) existing.checked = true;
    card.classList.add("rejected");
    card.append(H.el("p", { class: "muted", text: interpolate(gettext("Same video as “%s”, already added."), [firstName]) }), dismissButton(card));
  }

  function addTemplate(file) {
    const p = progressBar();
    const title = H.el("strong", { class: "name", text: file.name });
    const card = H.el("div", { class: "card template-card", "data-testid": "template-card" }, title, p.bar);
    cards.append(card);
    const problem = tooBig(file);
    if (problem) { card.classList.add("rejected"); card.append(H.el("p", { class: "field-error", text: problem })); return; }
    uploading++; refresh();
    queue.push(async () => {
      const res = await upload(form.dataset.templateUrl, file, p.set);
      uploading--;
      const existing = res.ok ? form.querySelector(`input[name=templates][value="${res.body.id}"]`) : null;
      if (existing) {
        alreadyHere(card, p, file, res.body, existing);
      } else if (res.ok) {
        const t = res.body;
        p.bar.remove();
        preview(card, file, t);
        const badge = faceBadge(t);
        card.append(
          H.el("small", { class: "muted", text: `${H.duration(t.duration)} · ${t.width}×${t.height} · ${H.size(t.size)} ` }), badge,
          H.el("input", { type: "checkbox", name: "templates", value: t.id, checked: "checked", hidden: "hidden" }),
        );
        const remove = H.el("button", { type: "button", class: "link-dark", text: gettext("Remove") });
        remove.onclick = () => { card.remove(); refresh(); };
        card.append(remove);
        if (t.face_status === "pending") pendingFace.set(t.id, { badge, card }); else addPicker(badge, t);
        if (t.face_status === "failed") markNoFace(card, t); else noteFace(card, t);
      } else {
        card.classList.add("rejected");
        p.bar.classList.add("bad");
        card.append(H.el("p", { class: "field-error", role: "alert", text: res.message }), dismissButton(card));
      }
      refresh();
    });
    pump();
  }

  async function pollFaces() {
    if (pendingFace.size) {
      const url = `${form.dataset.statusUrl}?ids=${[...pendingFace.keys()].join(",")}`;
      try {
        const data = await (await fetch(url, { credentials: "same-origin" })).json();
        for (const t of data.templates) {
          const waiting = pendingFace.get(t.id);
          if (waiting && t.face_status !== "pending") {
            const fresh = faceBadge(t);
            waiting.badge.replaceWith(fresh);
            pendingFace.delete(t.id);
            addPicker(fresh, t);
            if (t.face_status === "failed") markNoFace(waiting.card, t); else noteFace(waiting.card, t);
          }
        }
      } catch (_) { /* try again next tick */ }
    }
    setTimeout(pollFaces, 2000);
  }

  function wireDrop(zoneId, inputId, onFiles) {
    const zone = document.getElementById(zoneId);
    const input = document.getElementById(inputId);
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => { e.preventDefault(); zone.classList.remove("over"); onFiles([...e.dataTransfer.files]); });
    input.addEventListener("change", () => { onFiles([...input.files]); input.value = ""; });
  }
  document.querySelectorAll("[data-pick]").forEach((b) => { b.onclick = () => document.getElementById(b.dataset.pick).click(); });
  wireDrop("audio-drop", "audio-input", (files) => files[0] && addAudio(files[0]));
  wireDrop("template-drop", "template-input", (files) => files.forEach(addTemplate));
  form.addEventListener("change", refresh);
  form.addEventListener("submit", (e) => { if (start.disabled) e.preventDefault(); else start.textContent = gettext("Starting…"); });
  refresh();
  pollFaces();
})();
