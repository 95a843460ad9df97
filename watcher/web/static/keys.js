// One key per action on the workspace's pages (the forms and links work without it).
// j / k: next / previous item; r: relevant; i: irrelevant; c: cite for the chosen claim;
// n: write a note; u: undo the last decision; o or Enter: open the item; /: search.
(function () {
  "use strict";
  var cards = [];
  var current = -1;

  function select(index) {
    if (!cards.length) return;
    index = Math.max(0, Math.min(cards.length - 1, index));
    if (current >= 0 && cards[current]) cards[current].classList.remove("selected");
    current = index;
    cards[current].classList.add("selected");
    cards[current].scrollIntoView({ block: "nearest" });
  }

  function form(key) {
    return current >= 0 ? cards[current].querySelector('form[data-key="' + key + '"]') : null;
  }

  function submit(found) {
    if (!found) return;
    if (found.requestSubmit) found.requestSubmit(); else found.submit();
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  document.addEventListener("DOMContentLoaded", function () {
    cards = Array.prototype.slice.call(document.querySelectorAll(".card[data-item]"));
    if (cards.length) select(0);
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    var key = event.key;
    var done = true;
    if (key === "j") select(current + 1);
    else if (key === "k") select(current - 1);
    else if (key === "r" || key === "i" || key === "c") submit(form(key));
    else if (key === "n") {
      var note = form("n");
      if (note) note.querySelector('input[name="note"]').focus();
    } else if (key === "u") submit(document.getElementById("undo-last") || form("u"));
    else if (key === "o" || key === "Enter") {
      var open = current >= 0 ? cards[current].querySelector("a.open") : null;
      if (open) window.location.href = open.href;
    } else if (key === "/") {
      var box = document.getElementById("q");
      if (box) box.focus(); else window.location.href = "/search";
    } else done = false;
    if (done) event.preventDefault();
  });
})();
