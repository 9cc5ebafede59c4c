// Small shared helpers (no build step). Strings go through Django's JavaScript catalog
// (gettext, ngettext, interpolate: /jsi18n/, loaded by base.html before this file).
window.HeyGem = {
  lang: document.documentElement.lang || "en",
  csrf() { const el = document.querySelector("input[name=csrfmiddlewaretoken]"); return el ? el.value : ""; },
  // Decimal units (1 KB = 1000 bytes), the same rule as heygem_site/formats.py, so the
  // pages and this script never show two numbers for one file.
  size(bytes) {
    let value = Number(bytes) || 0;
    if (value < 1000) return `${Math.round(value)}\u00a0B`;
    const units = ["B", "KB", "MB", "GB", "TB", "PB"]; let i = 0;
    while (value >= 999.95 && i < units.length - 1) { value /= 1000; i++; }
    return `${value.toFixed(1).replace(/\.0$/, "")}\u00a0${units[i]}`;
  },
  duration(s) {
    if (s == null) return "";
    s = Math.max(0, Number(s));
    if (s < 10 && s !== Math.round(s)) return interpolate(pgettext("duration", "%(s)s s"), { s: s.toFixed(1) }, true);
    const whole = Math.round(s);
    if (whole < 60) return interpolate(pgettext("duration", "%(s)s s"), { s: whole }, true);
    const m = Math.floor(whole / 60); const sec = whole % 60;
    if (m < 60) {
      return sec ? interpolate(pgettext("duration", "%(m)s min %(s)s s"), { m, s: sec }, true)
        : interpolate(pgettext("duration", "%(m)s min"), { m }, true);
    }
    return interpolate(pgettext("duration", "%(h)s h %(m)s min"), { h: Math.floor(m / 60), m: m % 60 }, true);
  },
  // "3 minutes ago" that keeps moving: every <time data-relative datetime="…"> on the page.
  ago(date) {
    const seconds = (date.getTime() - Date.now()) / 1000;
    const fmt = new Intl.RelativeTimeFormat(this.lang, { numeric: "auto" });
    const steps = [[60, "second"], [3600, "minute"], [86400, "hour"], [604800, "day"], [2629800, "week"], [31557600, "month"], [Infinity, "year"]];
    const sizes = { second: 1, minute: 60, hour: 3600, day: 86400, week: 604800, month: 2629800, year: 31557600 };
    for (const [limit, unit] of steps) {
      if (Math.abs(seconds) < limit) {
        if (unit === "second" && Math.abs(seconds) < 45) return gettext("just now");
        return fmt.format(Math.round(seconds / sizes[unit]), unit);
      }
    }
    return "";
  },
  refreshTimes() {
    document.querySelectorAll("time[data-relative]").forEach((t) => {
      const when = new Date(t.getAttribute("datetime"));
      if (Number.isNaN(when.getTime())) return;
      t.textContent = this.ago(when);
      // The exact time under it, on this computer's clock (the server wrote its own guess).
      const p = (n) => String(n).padStart(2, "0");
      t.title = `${when.getFullYear()}-${p(when.getMonth() + 1)}-${p(when.getDate())} ${p(when.getHours())}:${p(when.getMinutes())}`;
    });
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
// The browser's time zone, for the server (heygem_site/timezones.py): times, default batch
// names and ZIP names follow the clock on this computer, and the account remembers it.
(() => {
  let zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
  if (zone && !document.cookie.split("; ").includes(`tz=${encodeURIComponent(zone)}`)) {
    document.cookie = `tz=${encodeURIComponent(zone)}; path=/; max-age=31536000; SameSite=Lax`;
  }
})();
window.HeyGem.refreshTimes();
setInterval(() => window.HeyGem.refreshTimes(), 15000);
