// mlstack: a container's web terminal. xterm.js (vendor/xterm/) draws the
// terminal in #terminal; a WebSocket to the element's data-ws address
// carries typed bytes (binary frames, UTF-8) and brings the shell's output
// back (binary frames). The terminal fits its box; every new size is sent
// as a text frame {"cols": C, "rows": R}. Closing the tab closes the socket,
// which ends the shell on the server.
(function () {
  "use strict";

  var box = document.getElementById("terminal");
  if (!box || typeof Terminal === "undefined" || typeof FitAddon === "undefined") {
    return;
  }
  var status = document.getElementById("terminal-status");

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  var term = new Terminal({ cursorBlink: true, scrollback: 5000 });
  var fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(box);
  fit.fit();

  var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
  var url = scheme + window.location.host + box.getAttribute("data-ws") +
    "?cols=" + term.cols + "&rows=" + term.rows;
  var socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  var encoder = new TextEncoder();

  function open() {
    return socket.readyState === WebSocket.OPEN;
  }

  socket.addEventListener("open", function () {
    say(box.getAttribute("data-connected"));
    term.focus();
  });
  socket.addEventListener("message", function (event) {
    if (event.data instanceof ArrayBuffer) {
      term.write(new Uint8Array(event.data));
    }
  });
  socket.addEventListener("close", function () {
    var text = box.getAttribute("data-closed");
    say(text);
    term.write("\r\n" + text + "\r\n");
  });

  term.onData(function (data) {
    if (open()) {
      socket.send(encoder.encode(data));
    }
  });
  term.onResize(function (size) {
    if (open()) {
      socket.send(JSON.stringify({ cols: size.cols, rows: size.rows }));
    }
  });

  var pending = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(pending);
    pending = window.setTimeout(function () { fit.fit(); }, 100);
  });
})();
