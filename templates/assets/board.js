// The dispatcher's board: drag a visit to another time or person (or a job
// onto someone's day), and keep the board current as crews move, without
// reloading the page. Everything here also works without the script: each
// visit has a form, and each job its page.
(function () {
  "use strict";
  var body = document.body;
  var date = body.dataset.date;
  var from = Number(body.dataset.axisFrom);
  var to = Number(body.dataset.axisTo);
  var csrf = body.dataset.csrf;
  var grab = { visit: null, job: null, offset: 0, width: 0 };

  function notice(text, ok) {
    var n = document.getElementById("notice");
    n.textContent = text;
    n.className = "show " + (ok ? "done" : "refused");
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  // The time of day under x on a lane, on a 15-minute grid.
  function timeAt(track, x) {
    var rect = track.getBoundingClientRect();
    var frac = Math.min(Math.max((x - rect.left) / rect.width, 0), 1);
    var minutes = Math.round((from * 60 + frac * (to - from) * 60) / 15) * 15;
    minutes = Math.min(minutes, 23 * 60 + 45);
    return pad(Math.floor(minutes / 60)) + ":" + pad(minutes % 60);
  }

  function post(url, fields) {
    var data = new URLSearchParams();
    data.set("csrf", csrf);
    Object.keys(fields).forEach(function (k) { data.append(k, fields[k]); });
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json" },
      body: data
    });
  }

  function move(visit, staff, start) {
    post("/app/visits/" + visit + "/move", { staff_id: staff, date: date, start: start })
      .then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
      .then(function (answer) {
        notice(answer[1].message, answer[0]);
        refresh();
      })
      .catch(function () { notice("We could not reach Kept; nothing was changed. Try again.", false); });
  }

  function book(job, staff, start) {
    var form = document.getElementById("book");
    var h = Number(start.slice(0, 2)), m = start.slice(3);
    var end = pad(Math.min(h + 2, 23)) + ":" + m;
    form.action = "/app/jobs/" + job + "/visits";
    [["staff_ids", staff], ["start", start], ["end", end]].forEach(function (f) {
      var input = form.querySelector("input[name=" + f[0] + "]") || document.createElement("input");
      input.type = "hidden"; input.name = f[0]; input.value = f[1];
      form.appendChild(input);
    });
    form.submit();
  }

  function bind() {
    document.querySelectorAll(".visit[draggable]").forEach(function (el) {
      el.addEventListener("dragstart", function (e) {
        grab = { visit: el.dataset.visit, job: null, offset: e.offsetX || 0, width: el.getBoundingClientRect().width };
        e.dataTransfer.setData("text/plain", "visit " + el.dataset.visit);
        e.dataTransfer.effectAllowed = "move";
      });
    });
    document.querySelectorAll(".job[draggable]").forEach(function (el) {
      el.addEventListener("dragstart", function (e) {
        grab = { visit: null, job: el.dataset.job, offset: 0, width: 0 };
        e.dataTransfer.setData("text/plain", "job " + el.dataset.job);
      });
    });
    document.querySelectorAll(".lane .track").forEach(function (track) {
      track.addEventListener("dragover", function (e) { e.preventDefault(); track.classList.add("drop"); });
      track.addEventListener("dragleave", function () { track.classList.remove("drop"); });
      track.addEventListener("drop", function (e) {
        e.preventDefault();
        track.classList.remove("drop");
        var start = timeAt(track, e.clientX - grab.offset);
        if (grab.visit) { move(grab.visit, track.dataset.staff, start); }
        else if (grab.job) { book(grab.job, track.dataset.staff, start); }
      });
    });
    // The keyboard path posts through the same answer as a drop.
    document.querySelectorAll("form.moveform").forEach(function (form) {
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        move(form.elements.visit_id.value, form.elements.staff_id.value, form.elements.start.value);
      });
    });
  }

  var pending = null;
  // Redraws the lanes and the side list from the server's page.
  function refresh() {
    fetch(location.pathname + location.search, { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        ["board", "side"].forEach(function (id) {
          var now = document.getElementById(id), next = fresh.getElementById(id);
          if (now && next) { now.innerHTML = next.innerHTML; }
        });
        bind();
      });
  }
  function soon() {
    if (pending) { clearTimeout(pending); }
    pending = setTimeout(refresh, 250);
  }

  // Live: the organization's events, as they happen; if the stream is not
  // there, look again every 15 seconds.
  function live() {
    if (!window.EventSource) { setInterval(refresh, 15000); return; }
    var stream = new EventSource("/api/v1/events");
    ["visit.booked", "visit.changed", "visit.status", "message.state", "inbound.received", "promise.at_risk",
     "job.changed"]
      .forEach(function (type) { stream.addEventListener(type, soon); });
    stream.onerror = function () {
      if (stream.readyState === EventSource.CLOSED) { setInterval(refresh, 15000); }
    };
  }

  bind();
  live();
})();
