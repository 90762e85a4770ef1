/* Configuration form hints (the server validates everything): broker fields per adapter,
   identity codes upper-cased as typed. */
(function () {
  "use strict";

  function showBrokerFields() {
    var select = document.getElementById("f-BROKER_NAME");
    if (!select) { return; }
    var broker = select.value;
    document.querySelectorAll("[class*='broker-']").forEach(function (el) {
      var match = el.classList.contains("broker-" + broker);
      el.classList.toggle("hidden", !match);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var select = document.getElementById("f-BROKER_NAME");
    if (select) {
      select.addEventListener("change", showBrokerFields);
      showBrokerFields();
    }
    document.querySelectorAll(".upper input").forEach(function (input) {
      input.addEventListener("input", function () {
        var pos = input.selectionStart;
        input.value = input.value.toUpperCase();
        input.setSelectionRange(pos, pos);
      });
    });
  });
})();
