// The post form without JavaScript shows every disclosure; with it, only those of the chosen kind
// (a call's opened), the time zone guessed from the browser when the group has none, and
// "Use my approximate location", blurred here to about 1 km (the server coarsens it again).
(function () {
  "use strict";
  var form = document.querySelector("form.item-form");
  if (!form) { return; }
  function showKind() {
    var chosen = form.querySelector('input[name="kind"]:checked');
    if (!chosen) { return; }
    form.querySelectorAll("[data-kinds]").forEach(function (part) {
      part.hidden = part.getAttribute("data-kinds").split(" ").indexOf(chosen.value) < 0;
    });
    if (chosen.value === "call") {
      form.querySelectorAll("details[data-open-for]").forEach(function (part) { part.open = true; });
    }
  }
  form.querySelectorAll('input[name="kind"]').forEach(function (radio) {
    radio.addEventListener("change", showKind);
  });
  showKind();
  var zone = form.querySelector('input[name="timezone"]');
  var shown = document.getElementById("zone-shown");
  if (zone && zone.value === "UTC" && form.querySelector('input[name="kind"]') && window.Intl) {
    var guessed = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (guessed) {
      zone.value = guessed;
      if (shown) { shown.textContent = shown.textContent.replace("UTC", guessed); }
    }
  }
  var locate = form.querySelector(".locate");
  if (locate && navigator.geolocation) {
    locate.hidden = false;
    var said = locate.querySelector("[role=status]");
    locate.querySelector("button").addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (position) {
        var blur = function (degrees) { return (Math.round(degrees * 100) / 100).toFixed(2); };
        form.querySelector('input[name="latitude"]').value = blur(position.coords.latitude);
        form.querySelector('input[name="longitude"]').value = blur(position.coords.longitude);
        var area = form.querySelector('select[name="area"]');
        if (area) { area.value = ""; }
        said.textContent = said.getAttribute("data-located-text");
      }, function () {}, { enableHighAccuracy: false, maximumAge: 600000, timeout: 10000 });
    });
  }
}());
