// Progressive enhancement: a "Copy handle" button where the Clipboard API exists. Without
// JavaScript (or without the API) the handle stays plain, selectable text.
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
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        if (status) {
          status.textContent = button.dataset.copied || "";
        }
      });
    });
  });
});
