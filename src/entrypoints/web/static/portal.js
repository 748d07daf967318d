/* The portal's small enhancements; every page works without them.
 *
 * Files: a form marked `data-upload-ticket` sends each chosen file straight to the file store
 * (S3's presigned POST, or the portal's own signed link) with a ticket from the portal, then
 * submits the form with the upload ids instead of the files. A file the portal refuses (type,
 * size, quota) is explained next to the input; if the store cannot be reached from the page
 * (network, a content policy), the form is submitted the plain way, files and all, and the
 * portal sends them on the browser's behalf.
 */
(function () {
  "use strict";

  function csrfToken(form) {
    var input = form.querySelector("input[name='_csrf_token']");
    return input ? input.value : "";
  }

  function say(list, text, isError) {
    if (!list) { return; }
    var item = document.createElement("li");
    item.textContent = text;
    if (isError) {
      item.className = "field-error";
      item.setAttribute("role", "alert");
    }
    list.appendChild(item);
  }

  function hidden(form, name, value) {
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.appendChild(input);
  }

  async function sendOne(form, file) {
    var organisation = form.querySelector("[name='organisation_id']");
    var response = await fetch(form.dataset.uploadTicket, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken(form) },
      body: JSON.stringify({
        name: file.name,
        type: file.type,
        size: file.size,
        organisation_id: organisation ? organisation.value : null
      })
    });
    var answer = await response.json().catch(function () { return {}; });
    if (!response.ok) {
      var refusal = new Error(answer.error || "The file " + file.name + " cannot be sent.");
      refusal.refused = true;
      throw refusal;
    }
    var body = new FormData();
    Object.keys(answer.fields).forEach(function (key) { body.append(key, answer.fields[key]); });
    body.append("file", file);
    var sent = await fetch(answer.url, { method: "POST", body: body });
    if (!sent.ok) {
      var rejected = new Error("The file " + file.name + " was not accepted (" + sent.status + ").");
      rejected.refused = true;
      throw rejected;
    }
    return answer;
  }

  async function submitWithTickets(event) {
    var form = event.currentTarget;
    var input = form.querySelector("input[type='file']");
    if (!input || !input.files || input.files.length === 0 || form.dataset.sending) {
      return;
    }
    event.preventDefault();
    form.dataset.sending = "yes";
    var list = form.querySelector(".upload-progress");
    var files = Array.prototype.slice.call(input.files);
    try {
      for (var index = 0; index < files.length; index += 1) {
        say(list, "Sending " + files[index].name + "…", false);
        var answer = await sendOne(form, files[index]);
        hidden(form, "upload_id", answer.upload_id);
        hidden(form, "upload_name", answer.display_name);
        say(list, files[index].name + " sent.", false);
      }
    } catch (error) {
      form.querySelectorAll("input[name='upload_id'], input[name='upload_name']").forEach(
        function (element) { element.remove(); }
      );
      if (!error.refused) {
        say(list, "Sending the files with the form instead…", false);
        HTMLFormElement.prototype.submit.call(form);
        return;
      }
      delete form.dataset.sending;
      say(list, error.message, true);
      return;
    }
    input.disabled = true;  // the files went to the store; the form carries their ids
    HTMLFormElement.prototype.submit.call(form);
  }

  function enhance() {
    // A form that came back with errors: its summary is the first thing read and reached.
    var summary = document.getElementById("error-summary");
    if (summary) {
      summary.focus();
    }
    document.querySelectorAll("form[data-upload-ticket]").forEach(function (form) {
      form.addEventListener("submit", submitWithTickets);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", enhance);
  } else {
    enhance();
  }
})();
