// Progressive enhancement: a "Copy" button (the group's handle, an invitation link) where the
// Clipboard API exists. Without JavaScript (or without the API) the text stays selectable.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  if (!navigator.clipboard || !window.isSecureContext) {
    return;
  }
  document.querySelectorAll("button[data-copy-target]").forEach(function (button) {
    var source = document.getElementById(button.dataset.copyTarget);
    var status = button.parentElement.querySelector(".copy-status");
    if (!source) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = "value" in source ? source.value : source.textContent;
      navigator.clipboard.writeText(text.trim()).then(function () {
        if (status) {
          status.textContent = button.dataset.copied || "";
        }
      });
    });
  });
});
