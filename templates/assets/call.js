// Finds the caller as the office types: name, phone or address. Without
// the script the search is a plain form.
(function () {
  "use strict";
  var input = document.getElementById("q");
  var list = document.getElementById("found");
  if (!input || !list) { return; }
  var timer = null, asked = "";
  function show(items, q) {
    list.textContent = "";
    items.forEach(function (c) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = "/app/new?customer_id=" + c.id;
      a.textContent = c.name;
      li.appendChild(a);
      li.appendChild(document.createElement("br"));
      var small = document.createElement("small");
      small.textContent = [c.phone, c.address].filter(Boolean).join(" · ");
      li.appendChild(small);
      list.appendChild(li);
    });
    if (!items.length && q) {
      var none = document.createElement("li");
      none.textContent = "Nobody matches. Add them below.";
      list.appendChild(none);
    }
  }
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var q = input.value.trim();
      asked = q;
      if (!q) { show([], ""); return; }
      fetch("/app/customers/search?q=" + encodeURIComponent(q), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (j) { if (asked === q) { show(j.items || [], q); } });
    }, 150);
  });
})();
