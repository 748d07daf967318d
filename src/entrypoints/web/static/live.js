// Live updates: listens to /live (server-sent events) and updates the open page in place.
// No build step, no framework. Text only: every value is set with textContent, never as HTML.
// EventSource reconnects by itself (the server's retry hint is 3 s; streams end every 5 min).
(function () {
  "use strict";
  if (!("EventSource" in window)) {
    return;
  }

  var announcer = null;

  function announce(message) {
    announcer = announcer || document.getElementById("live-announcer");
    if (!announcer) {
      return;
    }
    // Emptied first, so that the same words said twice are announced twice.
    announcer.textContent = "";
    window.setTimeout(function () {
      announcer.textContent = message;
    }, 50);
  }

  function timeElement(iso) {
    var element = document.createElement("time");
    var moment = new Date(iso);
    element.setAttribute("datetime", iso);
    if (isNaN(moment.getTime())) {
      element.textContent = iso;
      return element;
    }
    var months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    function two(n) {
      return (n < 10 ? "0" : "") + n;
    }
    element.textContent =
      two(moment.getUTCDate()) + " " + months[moment.getUTCMonth()] + " " + moment.getUTCFullYear() +
      ", " + two(moment.getUTCHours()) + ":" + two(moment.getUTCMinutes()) + " UTC";
    return element;
  }

  function byData(name, value) {
    return document.querySelectorAll("[" + name + '="' + CSS.escape(value) + '"]');
  }

  function updateStatus(data) {
    byData("data-live-case", data.case_id).forEach(function (container) {
      container.querySelectorAll('[data-live-field="status"]').forEach(function (field) {
        field.textContent = data.status_label;
      });
      container.setAttribute("data-live-status", data.status);
    });
  }

  function appendToTimeline(data) {
    byData("data-live-timeline", data.case_id).forEach(function (timeline) {
      var item = document.createElement("li");
      item.className = "timeline-" + data.kind.replace(/\./g, "-") + " live-new";
      item.appendChild(timeElement(data.at));
      var text = document.createElement("div");
      text.className = "prose";
      text.textContent = data.text;
      item.appendChild(text);
      timeline.appendChild(item);
    });
  }

  function prependToRecent(data, link) {
    document.querySelectorAll("[data-live-recent]").forEach(function (list) {
      var item = document.createElement("li");
      item.appendChild(timeElement(data.at));
      item.appendChild(document.createTextNode(": "));
      var anchor = document.createElement("a");
      anchor.href = link;
      anchor.textContent = (data.number ? data.number + " " : "") + data.text;
      item.appendChild(anchor);
      list.insertBefore(item, list.firstChild);
    });
  }

  function onCase(event) {
    var data = JSON.parse(event.data);
    updateStatus(data);
    appendToTimeline(data);
    prependToRecent(data, "/cases/" + encodeURIComponent(data.case_id));
    announce("Case " + data.number + ": " + data.text);
  }

  function onInvoice(event) {
    var data = JSON.parse(event.data);
    byData("data-live-invoice", data.invoice_id).forEach(function (container) {
      container.querySelectorAll('[data-live-field="status"]').forEach(function (field) {
        field.textContent = data.status;
      });
    });
    prependToRecent(data, "/invoices/" + encodeURIComponent(data.invoice_id));
    announce(data.text);
  }

  function connect() {
    var source = new EventSource("/live");
    source.addEventListener("case", onCase);
    source.addEventListener("invoice", onInvoice);
    source.addEventListener("open", function () {
      document.documentElement.setAttribute("data-live", "connected");
    });
    source.addEventListener("error", function () {
      document.documentElement.setAttribute("data-live", "reconnecting");
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", connect);
  } else {
    connect();
  }
})();
