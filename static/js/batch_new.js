// New batch page: drag-and-drop uploads with per-file progress, server-side probing,
// and a "Start batch" button that waits for uploads to finish.
(() => {
  const H = window.HeyGem;
  const form = document.getElementById("batch-form");
  const start = document.getElementById("start-batch");
  const hint = document.getElementById("start-hint");
  const maxUpload = Number(form.dataset.maxUpload);
  let uploading = 0;
  const pendingFace = new Map();
  const faceLabels = { who: form.dataset.faceWho, pick: form.dataset.facePick, face: form.dataset.faceFace };

  function addPicker(badge, t) {
    const picker = H.facePicker && H.facePicker(t, faceLabels);
    if (picker) badge.after(picker);
  }

  function refresh() {
    const hasAudio = !!form.querySelector("input[name=audio]:checked, input[name=audio][type=hidden]");
    const nTemplates = form.querySelectorAll("input[name=templates]:checked").length;
    start.disabled = uploading > 0 || !hasAudio || nTemplates === 0;
    hint.textContent = uploading > 0 ? `Waiting for ${uploading} upload(s) to finish…`
      : !hasAudio ? "Add an audio file to start."
      : nTemplates === 0 ? "Add at least one template video."
      : `${nTemplates} video(s) will speak this audio.`;
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
        else resolve({ ok: false, message: (body.error && body.error.message) || `Upload failed (HTTP ${xhr.status}). Try again.` });
      };
      xhr.onerror = () => resolve({ ok: false, message: "The connection dropped during the upload. Check your network and try again." });
      xhr.send(data);
    });
  }

  function tooBig(file) {
    return file.size > maxUpload
      ? `This file is ${H.size(file.size)}; the upload limit is ${H.size(maxUpload)}. Upload a shorter or smaller file.` : "";
  }

  function progressBar() {
    const bar = H.el("div", { class: "progress" }, H.el("span", { style: "width:0%" }));
    return { bar, set: (f) => { bar.firstChild.style.width = `${Math.round(f * 100)}%`; } };
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
    const labels = { pending: "Checking the face…", ready: "Face found", failed: "No usable face" };
    return H.el("span", { class: `badge ${t.face_status}`, title: t.face_error || "", text: labels[t.face_status] || t.face_status });
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
      if (res.ok && form.querySelector(`input[name=templates][value="${res.body.id}"]`)) {
        // Same content as a template already on the page: the server stored it once.
        const first = form.querySelector(`input[name=templates][value="${res.body.id}"]`).closest(".card");
        const firstName = first && first.querySelector(".name") ? first.querySelector(".name").textContent : res.body.name;
        p.bar.remove();
        card.classList.add("rejected");
        card.append(H.el("p", { class: "muted", text: `Same video as “${firstName}”, already added.` }));
        const dismiss = H.el("button", { type: "button", class: "link-dark", text: "Dismiss" });
        dismiss.onclick = () => card.remove();
        card.append(dismiss);
      } else if (res.ok) {
        const t = res.body;
        p.bar.remove();
        if (t.thumbnail_url) card.prepend(H.el("img", { class: "thumb", src: t.thumbnail_url, alt: "" }));
        const badge = faceBadge(t);
        card.append(
          H.el("small", { class: "muted", text: `${H.duration(t.duration)} · ${t.width}×${t.height} · ${H.size(t.size)} ` }), badge,
          H.el("input", { type: "checkbox", name: "templates", value: t.id, checked: "checked", hidden: "hidden" }),
        );
        const remove = H.el("button", { type: "button", class: "link-dark", text: "Remove" });
        remove.onclick = () => { card.remove(); refresh(); };
        card.append(remove);
        if (t.face_status === "pending") pendingFace.set(t.id, badge); else addPicker(badge, t);
      } else {
        card.classList.add("rejected");
        p.bar.classList.add("bad");
        card.append(H.el("p", { class: "field-error", role: "alert", text: res.message }));
        const dismiss = H.el("button", { type: "button", class: "link-dark", text: "Dismiss" });
        dismiss.onclick = () => card.remove();
        card.append(dismiss);
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
          const badge = pendingFace.get(t.id);
          if (badge && t.face_status !== "pending") {
            const fresh = faceBadge(t);
            badge.replaceWith(fresh); pendingFace.delete(t.id); addPicker(fresh, t);
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
  form.addEventListener("submit", (e) => { if (start.disabled) e.preventDefault(); else start.textContent = "Starting…"; });
  refresh();
  pollFaces();
})();
