// The wording editor's live preview: as the office types, the form is
// sent as a preview (nothing is saved) and the preview and any refusal
// are redrawn in place. Without this script the Preview button does it.
(function () {
  "use strict";
  var form = document.getElementById("editor");
  // (Its buttons are named "action", so form.action is a button: the attribute is read instead.)
  if (!form || !window.fetch || !window.DOMParser) { return; }
  var timer = null;
  var asked = 0;
  function swap(doc, id) {
    var now = document.getElementById(id);
    var next = doc.getElementById(id);
    if (now && next) { now.innerHTML = next.innerHTML; }
    return next;
  }
  function refresh() {
    var data = new URLSearchParams(new FormData(form));
    data.set("action", "preview");
    var mine = ++asked;
    fetch(form.getAttribute("action"), { method: "POST", body: data, credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        if (mine !== asked) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        swap(doc, "preview");
        swap(doc, "refused");
        document.querySelectorAll(".part").forEach(function (part) {
          var name = part.id.replace("part-", "");
          var next = swap(doc, "err-" + name);
          part.classList.toggle("refused", !!(next && next.textContent.trim()));
        });
      });
  }
  function later() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(refresh, 400);
  }
  form.addEventListener("input", later);
  form.addEventListener("change", later);
})();
