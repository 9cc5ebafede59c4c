// Face pickers on template cards: "Who speaks?" with a thumbnail per face. Without this
// script each button submits a small form; with it the choice is saved in place (the
// new-batch form keeps what is ticked). HeyGem.facePicker builds one for a card made here.
(() => {
  const H = window.HeyGem;

  // The tooltip says what a click would do, so the chosen face no longer offers itself.
  const TITLES = {
    chosen: gettext("Speaks (your choice)"),
    auto: gettext("Speaks (chosen automatically)"),
    pick: gettext("Make this face speak"),
  };

  function mark(picker, chosen) {
    picker.querySelectorAll("button.face").forEach((b) => {
      const on = b.value === String(chosen);
      b.classList.toggle("chosen", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
      b.title = on ? TITLES.chosen : TITLES.pick;
    });
  }

  async function choose(picker, button) {
    const data = new FormData();
    data.append("face", button.value);
    picker.classList.add("busy");
    try {
      const res = await fetch(picker.dataset.chooseUrl, {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-CSRFToken": H.csrf(), Accept: "application/json" },
      });
      const body = await res.json();
      if (res.ok) {
        const speaker = body.faces.find((f) => f.speaks);
        mark(picker, speaker ? speaker.index : button.value);
        const old = picker.querySelector(".field-error"); if (old) old.remove();
      } else {
        picker.append(H.el("p", { class: "field-error", role: "alert", text: body.error.message }));
      }
    } catch (_) {
      if (button.form) button.form.requestSubmit(button); // the plain form still works
    } finally {
      picker.classList.remove("busy");
    }
  }

  document.addEventListener("click", (e) => {
    const button = e.target.closest(".faces button.face");
    if (!button) return;
    e.preventDefault();
    choose(button.closest(".faces"), button);
  });

  // A picker for a card built in the page (labels come from the server, translated).
  H.facePicker = (t, labels) => {
    if (!t.faces || t.faces.length < 2) return null;
    const row = H.el("div", { class: "face-row" });
    for (const f of t.faces) {
      row.append(H.el("button", {
        type: "button", class: `face${f.speaks ? " chosen" : ""}`, value: String(f.index),
        "aria-pressed": f.speaks ? "true" : "false", "data-testid": "face-option",
        title: f.speaks ? (t.face_choice == null ? TITLES.auto : TITLES.chosen) : labels.pick,
      }, H.el("img", { src: f.thumbnail_url, alt: `${labels.face} ${f.index + 1}` })));
    }
    return H.el("div", { class: "faces", "data-testid": "face-picker", "data-choose-url": t.choose_face_url },
      H.el("small", { class: "muted", text: labels.who }), row);
  };
})();
