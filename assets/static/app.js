// mlstack: the little behaviour the pages need. No inline script anywhere;
// every page works without this file, it only adds convenience.
(function () {
  "use strict";

  var sidebarToggle = null;

  function setSidebar(toggle, open) {
    var target = document.getElementById(toggle.getAttribute("data-toggle"));
    if (!target) {
      return;
    }
    target.classList.toggle("open", open);
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    sidebarToggle = open ? toggle : null;
    if (open) {
      // Focus the current page's link (or the first one) in the drawer.
      var link = target.querySelector("a[aria-current]") || target.querySelector("a");
      if (link) {
        link.focus();
      }
    }
  }

  function closeSidebar(restoreFocus) {
    if (!sidebarToggle) {
      return false;
    }
    var toggle = sidebarToggle;
    setSidebar(toggle, false);
    if (restoreFocus) {
      toggle.focus();
    }
    return true;
  }

  // Buttons with data-dialog="ID" open the <dialog id="ID"> as a modal:
  // focus moves into it and Escape closes it (native behaviour); focus
  // goes back to the button when it closes.
  function openDialog(opener) {
    var dialog = document.getElementById(opener.getAttribute("data-dialog"));
    if (!dialog || typeof dialog.showModal !== "function" || dialog.open) {
      return;
    }
    dialog.addEventListener("close", function () {
      if (document.contains(opener)) {
        opener.focus();
      }
    }, { once: true });
    dialog.showModal();
  }

  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-dialog]");
    if (opener) {
      openDialog(opener);
      return;
    }
    // A click on the backdrop of a modal dialog (the dialog element itself,
    // outside its box) cancels it.
    if (event.target.tagName === "DIALOG" && event.target.open) {
      var box = event.target.getBoundingClientRect();
      var inside = event.clientX >= box.left && event.clientX <= box.right &&
        event.clientY >= box.top && event.clientY <= box.bottom;
      if (!inside) {
        event.target.close();
      }
      return;
    }
    // A click anywhere on a row of a selectable table (the Project Review
    // List) follows the row's link, as a click on its name does.
    var row = event.target.closest("table.selectable tbody tr");
    if (row && !event.target.closest("a, button, input, select, textarea, summary, label") &&
        !event.defaultPrevented && event.button === 0 && !sidebarToggle) {
      var link = row.querySelector("a[href]");
      var selection = window.getSelection ? String(window.getSelection()) : "";
      if (link && selection === "") {
        link.click();
        return;
      }
    }
    // The sidebar toggle on narrow screens.
    var toggle = event.target.closest("[data-toggle]");
    if (toggle) {
      setSidebar(toggle, toggle.getAttribute("aria-expanded") !== "true");
      return;
    }
    // A click outside the open drawer closes it and does nothing else.
    if (sidebarToggle) {
      var drawer = document.getElementById(sidebarToggle.getAttribute("data-toggle"));
      if (drawer && !drawer.contains(event.target)) {
        event.preventDefault();
        closeSidebar(false);
        return;
      }
    }
    // A click outside an open menu closes it.
    document.querySelectorAll("details.user-menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) {
        menu.removeAttribute("open");
      }
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || event.defaultPrevented) {
      return;
    }
    if (closeSidebar(true)) {
      return;
    }
    document.querySelectorAll("details.user-menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      var summary = menu.querySelector("summary");
      if (summary) {
        summary.focus();
      }
    });
  });

  // A select marked data-autosubmit (the header's project selector) sends
  // its form as soon as a choice is made with the pointer or confirmed with
  // Enter. Arrow keys on a closed select change its value at once; those
  // changes wait for Enter (or the form's own Switch button, kept for use
  // without script) so that looking through the list does not leave the page.
  function autosubmit(select) {
    var form = select.form;
    if (!form || select.value === "") {
      return;
    }
    select.setAttribute("aria-busy", "true");
    if (typeof form.requestSubmit === "function") {
      form.requestSubmit();
    } else {
      form.submit();
    }
  }

  document.addEventListener("keydown", function (event) {
    var select = event.target;
    if (!select || select.tagName !== "SELECT" || !select.hasAttribute("data-autosubmit")) {
      return;
    }
    if (event.key === "Enter") {
      event.preventDefault();
      autosubmit(select);
    } else if (event.key !== "Tab" && event.key !== "Escape") {
      select.setAttribute("data-keyed", "true");
    }
  });

  document.addEventListener("pointerdown", function (event) {
    var select = event.target.closest && event.target.closest("select[data-autosubmit]");
    if (select) {
      select.removeAttribute("data-keyed");
    }
  });

  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!select || select.tagName !== "SELECT" || !select.hasAttribute("data-autosubmit")) {
      return;
    }
    if (select.getAttribute("data-keyed") === "true") {
      select.removeAttribute("data-keyed");
      return;
    }
    autosubmit(select);
  });

  // A dialog rendered open because its form was refused (a wrong
  // verification code) opens again as a modal, its error inside.
  document.querySelectorAll("dialog[data-reopen][open]").forEach(function (dialog) {
    var opener = document.querySelector("[data-dialog=\"" + dialog.id + "\"]");
    dialog.close();
    if (opener) {
      openDialog(opener);
    } else if (typeof dialog.showModal === "function") {
      dialog.showModal();
    }
  });

  // A table wider than its card scrolls inside the card (app.css); a box
  // that scrolls takes keyboard focus, so that the arrow keys scroll it.
  function markScrollingTables() {
    var tables = document.querySelectorAll("table");
    for (var i = 0; i < tables.length; i++) {
      var box = tables[i];
      while (box && box !== document.body) {
        var overflow = window.getComputedStyle(box).overflowX;
        if (overflow === "auto" || overflow === "scroll") {
          break;
        }
        box = box.parentElement;
      }
      if (!box || box === document.body) {
        continue;
      }
      if (box.scrollWidth > box.clientWidth) {
        box.setAttribute("tabindex", "0");
      } else if (box.getAttribute("tabindex") === "0") {
        box.removeAttribute("tabindex");
      }
    }
  }
  markScrollingTables();
  window.addEventListener("resize", markScrollingTables);

  // Back on a wide screen, the drawer state no longer applies.
  if (window.matchMedia) {
    var wide = window.matchMedia("(min-width: 901px)");
    var onChange = function () {
      if (wide.matches) {
        closeSidebar(false);
      }
    };
    if (wide.addEventListener) {
      wide.addEventListener("change", onChange);
    }
  }
})();
