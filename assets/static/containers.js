// Container pages: statuses change without a full reload, by short polling
// of small fragments (the list's rows, a container's status). The pages
// work without this file; a reload shows the same.
(function () {
  "use strict";

  var PERIOD_MS = 3000;

  function fetchText(url) {
    return fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (response) {
      if (response.status === 404) {
        return { gone: true, text: null };
      }
      if (!response.ok) {
        return { gone: false, text: null };
      }
      return response.text().then(function (text) {
        return { gone: false, text: text };
      });
    });
  }

  // Calls step() every PERIOD_MS while the page is visible; step returns
  // a promise, and false from it ends the polling.
  function every(step) {
    function tick() {
      if (document.hidden) {
        window.setTimeout(tick, PERIOD_MS);
        return;
      }
      step().then(function (go) {
        if (go !== false) {
          window.setTimeout(tick, PERIOD_MS);
        }
      }, function () {
        window.setTimeout(tick, PERIOD_MS);
      });
    }
    window.setTimeout(tick, PERIOD_MS);
  }

  // The list: its rows again, swapped in when they changed.
  var rows = document.querySelector("tbody[data-poll]");
  if (rows) {
    var lastRows = null;
    every(function () {
      return fetchText(rows.getAttribute("data-poll")).then(function (answer) {
        if (answer.text !== null && answer.text !== lastRows) {
          rows.innerHTML = answer.text;
          lastRows = answer.text;
        }
      });
    });
  }

  // A container's page: its status; when the state changes, the page's
  // content is fetched again and swapped in (actions and services follow).
  function watchStatus() {
    var status = document.querySelector("[data-poll-status]");
    if (!status) {
      return;
    }
    every(function () {
      return fetchText(status.getAttribute("data-poll-status")).then(function (answer) {
        if (answer.gone) {
          window.location.reload();
          return false;
        }
        if (answer.text === null) {
          return true;
        }
        var holder = document.createElement("div");
        holder.innerHTML = answer.text;
        var fresh = holder.querySelector("[data-state]");
        if (!fresh) {
          return true;
        }
        if (fresh.getAttribute("data-state") === status.getAttribute("data-state")) {
          if (fresh.innerHTML !== status.innerHTML) {
            status.innerHTML = fresh.innerHTML;
          }
          return true;
        }
        if (document.querySelector("main dialog[open]")) {
          // Not while the user answers a dialog: the next poll sees it.
          return true;
        }
        return fetchText(window.location.href).then(function (page) {
          var main = document.getElementById("main");
          if (page.text === null || !main) {
            return true;
          }
          var doc = new DOMParser().parseFromString(page.text, "text/html");
          var next = doc.getElementById("main");
          if (next) {
            main.innerHTML = next.innerHTML;
            watchStatus();
          }
          return false;
        });
      });
    });
  }
  watchStatus();

  // The Delete link of a container's page opens its dialog (app.js shows
  // it) instead of going to the confirmation page, the way without this
  // file.
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-dialog]");
    var dialog = link && document.getElementById(link.getAttribute("data-dialog"));
    if (dialog && typeof dialog.showModal === "function") {
      event.preventDefault();
    }
  });

  // The Monitor tab's interval slider: its label follows the slider, and
  // letting go of it shows that interval (the Show button does the same
  // without this file).
  var hours = document.getElementById("monitor-hours");
  if (hours && hours.form) {
    var shown = hours.form.querySelector("output[data-template]");
    hours.addEventListener("input", function () {
      if (shown) {
        shown.textContent = shown.getAttribute("data-template").replace("{hours}", hours.value);
      }
    });
    hours.addEventListener("change", function () {
      hours.form.submit();
    });
  }

  // The Monitor tab's charts follow the collector: the page is fetched
  // again every few seconds (data-refresh-seconds) and its charts swapped
  // in, while the tab is visible.
  var charts = document.getElementById("monitor-charts");
  if (charts && window.fetch && window.DOMParser) {
    var every = parseInt(charts.getAttribute("data-refresh-seconds"), 10) || 15;
    setInterval(function () {
      if (document.hidden) {
        return;
      }
      fetch(window.location.href, { credentials: "same-origin" })
        .then(function (response) {
          return response.ok ? response.text() : null;
        })
        .then(function (text) {
          if (!text) {
            return;
          }
          var page = new DOMParser().parseFromString(text, "text/html");
          var fresh = page.getElementById("monitor-charts");
          var current = document.getElementById("monitor-charts");
          if (fresh && current) {
            current.replaceWith(document.importNode(fresh, true));
          }
        })
        .catch(function () {});
    }, every * 1000);
  }
})();
