// Progressive enhancement: Web Push on the settings page (_push.html). Where service workers
// and PushManager exist, the section is shown and its button turns notifications on or off for
// this browser: the service worker (/sw.js) is registered, the browser subscribes with the
// instance's VAPID key, and the subscription is sent to the site (or forgotten there). Without
// JavaScript, or without these APIs, the section stays hidden and nothing else changes.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var section = document.getElementById("push");
  if (!section || !("serviceWorker" in navigator) || !("PushManager" in window) ||
      !("Notification" in window) || !window.isSecureContext) {
    return;
  }
  var button = document.getElementById("push-toggle");
  var status = document.getElementById("push-status");
  var csrf = section.querySelector("input[name=csrf_token]").value;
  var registration = null;
  var subscribed = false;

  function say(key) {
    status.textContent = status.dataset[key] || "";
  }

  function show(subscription) {
    subscribed = Boolean(subscription);
    button.textContent = subscribed ? button.dataset.turnOff : button.dataset.turnOn;
    button.disabled = false;
  }

  function keyBytes(text) {
    var padded = (text + "===".slice((text.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = window.atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes;
  }

  function post(path, subscription) {
    var json = subscription.toJSON();
    var form = new URLSearchParams();
    form.set("csrf_token", csrf);
    form.set("endpoint", json.endpoint || "");
    form.set("p256dh", (json.keys && json.keys.p256dh) || "");
    form.set("auth", (json.keys && json.keys.auth) || "");
    return fetch(path, {
      method: "POST",
      body: form,
      credentials: "same-origin",
      headers: {"Accept": "application/json"},
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("refused");
      }
    });
  }

  // The browser's push service usually answers within a second or two; one out of reach can
  // leave subscribe() waiting for ever. A subscription that comes after we gave up is undone,
  // so that the browser and the site agree.
  var WAIT = 10000;

  function subscribeWithin(milliseconds, options) {
    return new Promise(function (resolve, reject) {
      var late = false;
      var timer = window.setTimeout(function () {
        late = true;
        reject(new Error("unavailable"));
      }, milliseconds);
      registration.pushManager.subscribe(options).then(function (subscription) {
        window.clearTimeout(timer);
        if (late) {
          subscription.unsubscribe().catch(function () {});
        } else {
          resolve(subscription);
        }
      }, function () {
        window.clearTimeout(timer);
        reject(new Error("unavailable"));
      });
    });
  }

  // Each failure says what the person can do; none is thrown on to the console.
  function turnOn() {
    return Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") {
        say("blocked");
        return;
      }
      return fetch("/my/push/key", {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) {
          if (!response.ok) {
            throw new Error("refused");
          }
          return response.json();
        })
        .then(function (body) {
          return subscribeWithin(WAIT, {userVisibleOnly: true, applicationServerKey: keyBytes(body.key)});
        })
        .then(function (subscription) {
          return post("/my/push/subscribe", subscription).then(function () {
            show(subscription);
            say("on");
          }, function (error) {
            return subscription.unsubscribe().catch(function () {}).then(function () {
              throw error;
            });
          });
        });
    });
  }

  function turnOff() {
    return registration.pushManager.getSubscription().then(function (subscription) {
      if (!subscription) {
        show(null);
        say("off");
        return;
      }
      return post("/my/push/unsubscribe", subscription).then(function () {
        return subscription.unsubscribe();
      }).then(function () {
        show(null);
        say("off");
      });
    });
  }

  section.hidden = false;
  navigator.serviceWorker.register("/sw.js").then(function (ready) {
    registration = ready;
    return ready.pushManager.getSubscription();
  }).then(show, function () {
    say("unavailable");
  });

  button.addEventListener("click", function () {
    if (!registration) {
      return;
    }
    button.disabled = true;
    (subscribed ? turnOff() : turnOn()).catch(function (error) {
      say(error && error.message === "refused" ? "refused" : "unavailable");
    }).then(function () {
      button.disabled = false;
    });
  });
});
