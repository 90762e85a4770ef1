/* Shared helpers for every page: CSRF header on fetch, state badge, confirmation dialogs.
   No inline script anywhere (CSP script-src 'self'). */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // Every unsafe fetch carries the CSRF token header (web_runtime §4.6).
  var nativeFetch = window.fetch.bind(window);
  window.fetch = function (input, init) {
    init = init || {};
    var method = (init.method || "GET").toUpperCase();
    if (method !== "GET" && method !== "HEAD") {
      var headers = new Headers(init.headers || {});
      headers.set("X-CSRF-Token", csrfToken());
      init.headers = headers;
    }
    init.credentials = "same-origin";
    return nativeFetch(input, init);
  };

  function setBadge(state) {
    var badge = document.getElementById("state-badge");
    if (!badge) { return; }
    badge.textContent = state;
    badge.className = "badge state-" + state;
  }

  function pollState() {
    var badge = document.getElementById("state-badge");
    if (!badge) { return; }
    fetch(badge.getAttribute("data-state-url"), { headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) { if (body && body.bot_state) { setBadge(body.bot_state); } })
      .catch(function () { setBadge("unknown"); });
  }

  // A small modal built with <dialog>: forms marked .confirm-form ask before submitting.
  function confirmDialog(message, onConfirm) {
    var dialog = document.createElement("dialog");
    dialog.className = "confirm-dialog";
    var text = document.createElement("p");
    text.textContent = message;
    var row = document.createElement("div");
    row.className = "dialog-buttons";
    var cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = "Cancel";
    cancel.className = "dialog-cancel";
    var ok = document.createElement("button");
    ok.type = "button";
    ok.textContent = "Confirm";
    ok.className = "primary dialog-confirm";
    row.appendChild(cancel);
    row.appendChild(ok);
    dialog.appendChild(text);
    dialog.appendChild(row);
    document.body.appendChild(dialog);
    cancel.addEventListener("click", function () { dialog.close(); dialog.remove(); });
    ok.addEventListener("click", function () { dialog.close(); dialog.remove(); onConfirm(); });
    dialog.showModal();
  }

  function wireConfirmForms() {
    document.querySelectorAll("form.confirm-form").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.dataset.confirmed === "1") { return; }
        event.preventDefault();
        if (!form.reportValidity()) { return; }
        confirmDialog(form.getAttribute("data-confirm") || "Are you sure?", function () {
          form.dataset.confirmed = "1";
          form.submit();
        });
      });
    });
  }

  window.TBot = { csrfToken: csrfToken, setBadge: setBadge, pollState: pollState };

  document.addEventListener("DOMContentLoaded", function () {
    wireConfirmForms();
    pollState();
    window.setInterval(pollState, 15000);
  });
})();
