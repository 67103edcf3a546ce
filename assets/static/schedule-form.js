// The job schedule form: the next 10 trigger times are asked again from
// the preview endpoint as the trigger, zone or window change. The page
// works without this file: "Show trigger times" posts the form instead.
(function () {
  "use strict";

  var form = document.getElementById("schedule-form");
  var box = document.getElementById("schedule-preview");
  if (!form || !box) {
    return;
  }
  var FIELDS = ["cron", "month", "switch", "days", "hour", "minute", "zone", "start", "end"];
  var WAIT_MS = 300;
  var timer = null;
  var asked = 0;

  function show(element) {
    while (box.firstChild) {
      box.removeChild(box.firstChild);
    }
    box.appendChild(element);
  }

  function sentence(text) {
    var p = document.createElement("p");
    p.className = "muted";
    p.textContent = text;
    return p;
  }

  function render(answer) {
    if (answer.errors) {
      var messages = Object.keys(answer.errors).map(function (k) { return answer.errors[k]; });
      show(sentence(messages.join(" ")));
      return;
    }
    if (!answer.times || answer.times.length === 0) {
      show(sentence(answer.empty || ""));
      return;
    }
    var list = document.createElement("ol");
    list.className = "preview-times";
    answer.times.forEach(function (t) {
      var item = document.createElement("li");
      item.textContent = t.local;
      list.appendChild(item);
    });
    show(list);
  }

  function ask() {
    var query = new URLSearchParams();
    FIELDS.forEach(function (name) {
      var field = form.elements.namedItem(name);
      if (field) {
        query.set(name, field.value);
      }
    });
    var mine = ++asked;
    fetch(box.getAttribute("data-preview") + "?" + query.toString(), {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json" }
    })
      .then(function (response) {
        return response.status === 200 || response.status === 422 ? response.json() : null;
      })
      .then(function (answer) {
        if (answer && mine === asked) {
          render(answer);
        }
      }, function () {});
  }

  function changed(event) {
    if (FIELDS.indexOf(event.target.name) < 0) {
      return;
    }
    window.clearTimeout(timer);
    timer = window.setTimeout(ask, WAIT_MS);
  }

  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
})();
