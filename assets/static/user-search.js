// mlstack: username suggestions for the project form. Inputs marked
// data-user-search="URL" hold usernames separated by commas; as the last
// name is typed (2 characters or more), the matches from URL?q= fill the
// input's datalist. Without this script the names are simply typed.
(function () {
  "use strict";

  var MIN = 2;
  var pending = null;

  function lastName(value) {
    var parts = value.split(/[,\s]+/);
    return parts[parts.length - 1];
  }

  function fill(input, names) {
    var list = document.getElementById(input.getAttribute("list"));
    if (!list) {
      return;
    }
    var typed = input.value;
    var prefix = typed.slice(0, typed.length - lastName(typed).length);
    while (list.firstChild) {
      list.removeChild(list.firstChild);
    }
    names.forEach(function (name) {
      var option = document.createElement("option");
      option.value = prefix + name;
      option.textContent = name;
      list.appendChild(option);
    });
  }

  function search(input) {
    var query = lastName(input.value);
    if (query.length < MIN) {
      fill(input, []);
      return;
    }
    if (pending) {
      pending.abort();
    }
    pending = new AbortController();
    var url = input.getAttribute("data-user-search") + "?q=" + encodeURIComponent(query);
    fetch(url, { credentials: "same-origin", signal: pending.signal })
      .then(function (response) {
        return response.ok ? response.json() : { matches: [] };
      })
      .then(function (answer) {
        fill(input, answer.matches || []);
      })
      .catch(function () {
        // Aborted by a newer search or offline: the typed text stays.
      });
  }

  document.addEventListener("input", function (event) {
    var input = event.target;
    if (input && input.hasAttribute && input.hasAttribute("data-user-search")) {
      search(input);
    }
  });
})();
