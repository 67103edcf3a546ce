// A running job's Log tab: with "Follow" ticked, the log is read again
// every few seconds and the view kept at its end. The page works without
// this file; a reload shows the same.
(function () {
  "use strict";

  var PERIOD_MS = 3000;
  var log = document.querySelector("pre[data-follow]");
  var follow = document.getElementById("follow-log");
  if (!log || !follow) {
    return;
  }

  function tick() {
    if (!follow.checked || document.hidden) {
      window.setTimeout(tick, PERIOD_MS);
      return;
    }
    fetch(log.getAttribute("data-follow"), { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.status === 404) {
          return null;
        }
        return response.ok ? response.text() : "";
      })
      .then(function (text) {
        if (text === null) {
          return;
        }
        if (text && text !== log.textContent) {
          log.textContent = text;
          log.scrollTop = log.scrollHeight;
        }
        window.setTimeout(tick, PERIOD_MS);
      }, function () {
        window.setTimeout(tick, PERIOD_MS);
      });
  }
  log.scrollTop = log.scrollHeight;
  window.setTimeout(tick, PERIOD_MS);
})();
