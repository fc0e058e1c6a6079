// Keeps a job's page current: when something happens on this job (a crew
// taps a status, a message changes state, the customer replies, a visit
// moves), its visits, promises and timeline are redrawn in place. The
// forms are left alone, so nothing typed is lost.
(function () {
  "use strict";
  var page = document.querySelector("[data-job]");
  var job = page && page.dataset.job;
  if (!job || !window.EventSource) { return; }
  var pending = null;
  function refresh() {
    fetch(location.pathname, { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll(".live[id]").forEach(function (now) {
          var next = fresh.getElementById(now.id);
          if (next) { now.innerHTML = next.innerHTML; }
        });
      });
  }
  function onEvent(e) {
    var data = {};
    try { data = JSON.parse(e.data); } catch (_) { return; }
    if (String(data.job_id) !== job) { return; }
    if (pending) { clearTimeout(pending); }
    pending = setTimeout(refresh, 250);
  }
  var stream = new EventSource("/api/v1/events");
  ["visit.booked", "visit.changed", "visit.status", "message.state", "inbound.received", "promise.at_risk"]
    .forEach(function (type) { stream.addEventListener(type, onEvent); });
  stream.addEventListener("resync", refresh);
})();
