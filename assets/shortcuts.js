// Keyboard shortcuts of the incidents dashboard (/). Every key presses one of the page's own
// buttons or links, so each shortcut has a clickable equivalent and goes through the same
// event, session check and permission check. Served from the app's origin: the
// Content-Security-Policy runs no inline script.
(() => {
  if (window.__oncallShortcuts) return; // the page may mount it more than once
  window.__oncallShortcuts = true;

  const cards = () => Array.from(document.querySelectorAll("#incident-list .incident-card"));
  const typing = (el) =>
    !!el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName) ||
             !!el.closest("[role=combobox], [role=listbox], [role=menu]"));
  let lastId = null; // the focused card's incident, across re-renders of the list

  const current = () => {
    const el = document.activeElement;
    const active = el && el.closest(".incident-card");
    if (active) return active;
    // focus fell to the body (the list re-rendered under it): the row last moved to
    if (!el || el === document.body) return cards().find((c) => c.dataset.id === lastId) || null;
    return null;
  };
  const focusCard = (card) => {
    if (!card) return;
    lastId = card.dataset.id;
    card.focus();
    card.scrollIntoView({ block: "nearest" });
  };
  const press = (el) => {
    if (el && !el.disabled) el.click();
    return !!el;
  };
  const selection = () => Number(document.getElementById("bulk-bar")?.dataset.count || 0);

  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    if (!document.getElementById("incident-list") && e.key !== "?") return;
    if (!document.getElementById("shortcuts-open")) return; // not the dashboard
    if (typing(e.target) || document.querySelector("[role=dialog]")) return;
    const card = current();
    const all = cards();
    let handled = true;
    switch (e.key) {
      case "j":
      case "k": {
        const at = card ? all.indexOf(card) : -1;
        const next = e.key === "j" ? Math.min(at + 1, all.length - 1) : Math.max(at - 1, 0);
        focusCard(all[next]);
        break;
      }
      case "Enter":
        // only when the card itself has focus: Enter on a button or link inside does its own
        if (!card || document.activeElement !== card) handled = false;
        else press(card.querySelector(".incident-link"));
        break;
      case "o":
        if (card) press(card.querySelector(".incident-link"));
        break;
      case "x":
        if (card) press(card.querySelector(".select-incident"));
        break;
      case "a":
        if (selection() > 0) press(document.getElementById("bulk-ack"));
        else if (card) press(card.querySelector(".ack-button"));
        break;
      case "r":
        if (selection() > 0) press(document.getElementById("bulk-resolve"));
        else if (card) press(card.querySelector(".resolve-button"));
        break;
      case "?":
        press(document.getElementById("shortcuts-open"));
        break;
      default:
        handled = false;
    }
    if (handled) e.preventDefault();
  });
})();
