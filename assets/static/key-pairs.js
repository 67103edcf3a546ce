// Key Pairs: generating a key pair answers with its private key as a
// download, so the page would stay as it was. The generate form sends a
// random token; the download comes with a cookie holding it, and once the
// cookie is seen the list is loaded again with the new key pair. Without
// this file the download works the same and a reload shows the list.
(function () {
  "use strict";

  var COOKIE = "mlstack_key_download";
  var form = document.querySelector("form[data-download-done]");
  if (!form || !window.crypto || !window.crypto.getRandomValues) {
    return;
  }
  var field = form.querySelector("input[name='download']");
  var path = window.location.pathname;

  function token() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function forget() {
    document.cookie = COOKIE + "=; Path=" + path + "; Max-Age=0; SameSite=Strict";
  }

  form.addEventListener("submit", function () {
    var expected = token();
    field.value = expected;
    var started = Date.now();
    var timer = window.setInterval(function () {
      var seen = document.cookie.split("; ").indexOf(COOKIE + "=" + expected) >= 0;
      if (seen || Date.now() - started > 60000) {
        window.clearInterval(timer);
        forget();
        if (seen) {
          window.location.assign(form.getAttribute("data-download-done"));
        }
      }
    }, 250);
  });
})();
