/* COA request page: poll the request's status every second and reload once it has a result. */
(function () {
  "use strict";

  function poll() {
    var box = document.getElementById("coa-request");
    if (!box) { return; }
    fetch(box.getAttribute("data-status-url"), { headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (body && body.status && body.status !== "pending") { window.location.reload(); }
      })
      .catch(function () { /* keep polling */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    window.setInterval(poll, 1000);
  });
})();
