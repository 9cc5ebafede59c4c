// History: select rows for actions on several batches at once.
(() => {
  const all = document.getElementById("select-all");
  if (!all) return;
  const boxes = () => [...document.querySelectorAll("input[name=batch]")];
  const label = document.getElementById("selected-count");
  const remove = document.getElementById("delete-selected");
  const update = () => {
    const n = boxes().filter((b) => b.checked).length;
    label.textContent = n ? interpolate(ngettext("%s batch selected", "%s batches selected", n), [n]) : label.dataset.idle;
    remove.disabled = n === 0;
  };
  document.getElementById("history-form").addEventListener("submit", (e) => {
    // Only deleting asks; "Download selected" shares this form (export.js handles it).
    if (e.submitter === remove && !confirm(remove.dataset.confirm)) e.preventDefault();
  });
  label.dataset.idle = label.textContent;
  all.addEventListener("change", () => { boxes().forEach((b) => { b.checked = all.checked; }); update(); });
  document.getElementById("history-form").addEventListener("change", update);
})();
