/* Wait page: poll /api/bot_state every 2 s and move on once provisioning is over. */
(function () {
  "use strict";
  var BUSY = ["initializing", "provisioning", "bootstrapping"];

  function poll() {
    var box = document.getElementById("wait");
    if (!box) { return; }
    fetch(box.getAttribute("data-state-url"), { headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body) { return; }
        document.getElementById("wait-state").textContent = body.bot_state;
        if (BUSY.indexOf(body.bot_state) === -1) {
          window.location.assign(box.getAttribute("data-next-url"));
        }
      })
      .catch(function () { /* keep polling */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    window.setInterval(poll, 2000);
  });
})();
