// The post form without JavaScript shows every field; with it, only the fields of the chosen kind,
// and the time zone guessed from the browser.
(function () {
  "use strict";
  var form = document.querySelector("form.item-form");
  if (!form) { return; }
  function showKind() {
    var chosen = form.querySelector('input[name="kind"]:checked');
    if (!chosen) { return; }
    form.querySelectorAll("fieldset[data-kinds]").forEach(function (fieldset) {
      fieldset.hidden = fieldset.getAttribute("data-kinds").split(" ").indexOf(chosen.value) < 0;
    });
  }
  form.querySelectorAll('input[name="kind"]').forEach(function (radio) {
    radio.addEventListener("change", showKind);
  });
  showKind();
  var zone = form.querySelector("input[data-guess-timezone]");
  if (zone && zone.value === "UTC" && window.Intl) {
    var guessed = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (guessed) { zone.value = guessed; }
  }
}());
