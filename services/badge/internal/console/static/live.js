// Reloads the live part of a console page when the server says it changed (server-sent
// events). Without JavaScript the pages still work; they only do not update by themselves.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var live = document.getElementById("live");
  var state = document.getElementById("live-state");
  if (!live || !live.dataset.events || !window.EventSource) {
    return;
  }
  var say = function (text) { if (state) { state.textContent = text; } };
  var es = new EventSource(live.dataset.events);
  es.addEventListener("changed", function () {
    fetch(live.dataset.live, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) { throw new Error(r.status + " " + r.statusText); }
      return r.text();
    }).then(function (html) {
      live.innerHTML = html;
      say("Updated at " + new Date().toISOString().slice(11, 19) + " UTC.");
    }).catch(function (err) { say("Could not update: " + err.message + ". Reload the page."); });
  });
  es.addEventListener("closing", function () {
    es.close();
    say("The service is stopping: this page no longer updates. Reload it later.");
  });
  es.onerror = function () { say("Live updates interrupted; retrying."); };
  es.onopen = function () { say("This page updates by itself while it is open."); };
});
