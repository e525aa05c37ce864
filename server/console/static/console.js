// Staff console behaviour htmx doesn't cover: alert on a new ticket or order (sound, browser notification, a count
// in the tab title) and quick replies filling the reply box. No build step, no framework.
(function () {
  "use strict";
  var audio = null;
  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = 880; gain.gain.value = 0.15;
      osc.connect(gain); gain.connect(audio.destination);
      osc.start(); osc.stop(audio.currentTime + 0.25);
    } catch (e) { /* no audio device: the title and the notification still tell */ }
  }
  function notify(text) {
    if (!("Notification" in window)) return;
    if (Notification.permission === "granted") new Notification(text);
  }
  document.addEventListener("htmx:sseMessage", function (ev) {
    var kind = ev.detail.type, data = {};
    try { data = JSON.parse(ev.detail.data); } catch (e) { return; }
    if (data.op !== "insert") return;
    if (kind === "ticket") { beep(); notify(document.body.dataset.title + ": " + "#" + data.id); }
    if (kind === "order") { beep(); }
  });
  // Events sent while the stream was (re)connecting are lost: once it is open, refresh every live part of the page
  // so nothing that happened in between is missing; `data-live` tells staff (and tests) the page is live.
  document.addEventListener("htmx:sseOpen", function () {
    document.body.dataset.live = "1";
    document.querySelectorAll("[hx-get][hx-trigger^='sse:']").forEach(function (el) {
      htmx.trigger(el, el.getAttribute("hx-trigger").split(",")[0].trim());
    });
  });
  document.addEventListener("htmx:sseError", function () { document.body.dataset.live = "0"; });
  document.addEventListener("htmx:afterSwap", function (ev) {
    if (ev.target.id === "open-count") {
      var n = ev.target.textContent.trim(), base = document.body.dataset.title || document.title;
      document.title = n ? "(" + n + ") " + base : base;
    }
  });
  document.addEventListener("click", function (ev) {
    var chip = ev.target.closest("[data-quick]");
    if (chip) {
      var box = document.getElementById("reply-text");
      if (box) { box.value = chip.dataset.quick; box.focus(); }
    }
    // asking needs a user gesture: the first click anywhere asks once
    if ("Notification" in window && Notification.permission === "default") Notification.requestPermission();
  });
})();
