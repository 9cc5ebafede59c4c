// Small shared helpers (no build step).
window.HeyGem = {
  csrf() { const el = document.querySelector("input[name=csrfmiddlewaretoken]"); return el ? el.value : ""; },
  size(bytes) {
    if (!bytes) return "0 B";
    const u = ["B", "KB", "MB", "GB", "TB"]; let i = 0;
    // Same unit as Django's filesizeformat (1 KB = 1024 bytes), so pages never disagree.
    while (bytes >= 1024 && i < u.length - 1) { bytes /= 1024; i++; }
    return bytes.toFixed(i ? 1 : 0) + " " + u[i];
  },
  duration(s) {
    if (s == null) return "";
    s = Math.round(s); const m = Math.floor(s / 60);
    return m ? `${m} min ${s % 60} s` : `${s} s`;
  },
  el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    }
    for (const c of children) if (c != null) node.append(c);
    return node;
  },
};
