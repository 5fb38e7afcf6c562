// The service worker of Web Push, served at /sw.js (its scope is the whole site). It shows what
// the site sent (a title, a short body, the address of the page to open) and, when the
// notification is clicked, opens that page: only ever one on this site.
"use strict";

function onThisSite(url) {
  try {
    var parsed = new URL(url || "/", self.location.origin);
    return parsed.origin === self.location.origin ? parsed.href : self.location.origin + "/";
  } catch (error) {
    return self.location.origin + "/";
  }
}

function text(value) {
  return typeof value === "string" ? value : "";
}

self.addEventListener("push", function (event) {
  var data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (error) {
    data = {};
  }
  var options = {body: text(data.body), data: {url: onThisSite(text(data.url))}};
  if (text(data.tag)) {
    options.tag = data.tag;  // a later message with the same tag replaces this one
  }
  event.waitUntil(self.registration.showNotification(text(data.title) || "Ayni", options));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = onThisSite(event.notification.data && event.notification.data.url);
  event.waitUntil(
    self.clients.matchAll({type: "window", includeUncontrolled: true}).then(function (windows) {
      for (var i = 0; i < windows.length; i += 1) {
        if (windows[i].url === url && "focus" in windows[i]) {
          return windows[i].focus();
        }
      }
      return self.clients.openWindow(url);
    })
  );
});
