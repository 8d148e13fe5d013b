// Steward's only script: tells the server the viewer's time zone, so times are also shown in
// it. Everything works without it (times are then shown in the account's zone and UTC).
(function () {
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("steward_tz=" + encodeURIComponent(zone)) < 0) {
      document.cookie = "steward_tz=" + encodeURIComponent(zone) + "; Path=/; Max-Age=31536000; SameSite=Lax";
    }
  } catch (e) { /* no Intl: nothing to tell */ }
})();

// The post editor: the text's length against the platform's limit, counted as the server
// counts it (Unicode characters), and uploads through the API (the form works without both).
(function () {
  function chars(s) { return Array.from(s.replace(/\r\n/g, "\n")).length; }
  document.querySelectorAll("[data-count-for]").forEach(function (out) {
    var field = document.getElementById(out.getAttribute("data-count-for"));
    var limit = parseInt(out.getAttribute("data-limit"), 10);
    var preview = document.getElementById("preview-text");
    if (!field) return;
    field.setAttribute("aria-describedby", ((field.getAttribute("aria-describedby") || "") + " " + out.id).trim());
    function update() {
      var n = chars(field.value);
      out.textContent = n + " of " + limit + " characters" + (n > limit ? ": " + (n - limit) + " too many" : "");
      out.classList.toggle("over", n > limit);
      if (preview) preview.textContent = field.value;
    }
    field.addEventListener("input", update);
  });
  document.querySelectorAll("[data-upload]").forEach(function (box) {
    var input = box.querySelector("input[type=file]");
    var status = box.querySelector("[role=status]");
    var target = document.getElementById(box.getAttribute("data-target"));
    var form = box.closest("form");
    var token = form && form.querySelector("input[name=csrf_token]");
    if (!input || !target || !token || !window.XMLHttpRequest) return;
    box.hidden = false;
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (!file) return;
      var xhr = new XMLHttpRequest();
      xhr.open("POST", box.getAttribute("data-upload"));
      xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
      xhr.setRequestHeader("X-CSRF-Token", token.value);
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) status.textContent = "Uploading " + file.name + ": " + Math.round(100 * e.loaded / e.total) + "%";
      };
      xhr.onload = function () {
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
        if (xhr.status === 201 && body.url) {
          target.value = (target.value.trim() ? target.value.trim() + "\n" : "") + body.url;
          status.textContent = file.name + " is uploaded and added to the media. Save to keep it.";
        } else {
          status.textContent = "The upload failed: " + (body.detail || "the server refused it") + ".";
        }
        input.value = "";
      };
      xhr.onerror = function () { status.textContent = "The upload failed: the server could not be reached."; };
      status.textContent = "Uploading " + file.name + "…";
      xhr.send(file);
    });
  });
})();

// A link to follow at once (the platform's consent page after "Connect"): pages may send forms
// only to Steward itself (CSP `form-action 'self'`), so the form's answer is this link rather
// than a redirect. Without the script, the link is one click.
(function () {
  var go = document.querySelector("a[data-follow]");
  if (go) window.location.assign(go.href);
})();

// Copy buttons (the recovery codes, an invitation link): shown only with a script and a clipboard; without them
// the text stays in a box to select, and the download link works anyway.
(function () {
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    var status = button.parentNode.querySelector("[data-copy-status]");
    if (!source || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.value || source.textContent).then(function () {
        if (status) status.textContent = "Copied.";
      }, function () {
        if (status) status.textContent = "Copying failed: select the text and copy it.";
      });
    });
  });
})();

// Asking before a click that cannot be undone (forms marked `data-confirm`): a dialog, and only
// "yes" sends the form, with `confirm=yes`. Without the script (or `<dialog>`) the server answers
// the form with a confirmation page instead, so nothing happens on the first click either way.
(function () {
  var forms = document.querySelectorAll("form[data-confirm]");
  if (!forms.length) return;
  var dialog = document.createElement("dialog");
  if (typeof dialog.showModal !== "function") return;
  dialog.className = "confirm";
  dialog.setAttribute("aria-labelledby", "confirm-dialog-q");
  var question = document.createElement("p");
  question.id = "confirm-dialog-q";
  var row = document.createElement("div");
  row.className = "row-actions";
  var yes = document.createElement("button");
  yes.type = "button";
  yes.className = "danger";
  var no = document.createElement("button");
  no.type = "button";
  no.className = "secondary";
  no.textContent = "No, go back";
  row.appendChild(yes);
  row.appendChild(no);
  dialog.appendChild(question);
  dialog.appendChild(row);
  document.body.appendChild(dialog);
  var pending = null;
  no.addEventListener("click", function () { pending = null; dialog.close(); });
  yes.addEventListener("click", function () {
    var form = pending;
    if (!form) return;
    var field = document.createElement("input");
    field.type = "hidden";
    field.name = "confirm";
    field.value = "yes";
    form.appendChild(field);
    dialog.close();
    form.submit();
  });
  forms.forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (!form.hasAttribute("data-confirm") || form.querySelector("input[name=confirm]")) return;
      e.preventDefault();
      pending = form;
      question.textContent = form.getAttribute("data-confirm");
      yes.textContent = form.getAttribute("data-confirm-yes") || "Yes";
      dialog.showModal();
      no.focus();
    });
  });
})();

// The planning calendar: drag a post to another hour to move it. The drop sends the page's move
// form (the one a "Move" link's page shows without the script) with the post and the new hour,
// so the server answers as for that form: moved, or why not, in words.
(function () {
  var week = document.querySelector("table.week");
  var form = document.getElementById("move");
  if (!week || !form) return;
  var dragged = null;
  document.querySelectorAll("[draggable=true][data-post]").forEach(function (entry) {
    entry.addEventListener("dragstart", function (e) {
      dragged = entry;
      if (e.dataTransfer) { e.dataTransfer.setData("text/plain", entry.getAttribute("data-post")); e.dataTransfer.effectAllowed = "move"; }
    });
  });
  week.querySelectorAll("td[data-slot]").forEach(function (cell) {
    cell.addEventListener("dragover", function (e) { if (dragged) { e.preventDefault(); cell.classList.add("drop"); } });
    cell.addEventListener("dragleave", function () { cell.classList.remove("drop"); });
    cell.addEventListener("drop", function (e) {
      e.preventDefault();
      cell.classList.remove("drop");
      if (!dragged) return;
      // The same minutes past the hour as before (on the hour, for a post with no time).
      var time = dragged.getAttribute("data-time") || "00:00";
      form.elements.post.value = dragged.getAttribute("data-post");
      form.elements.at.value = cell.getAttribute("data-slot") + time.slice(2);
      dragged = null;
      var status = document.getElementById("move-status");
      if (status) status.textContent = "Moving the post…";
      form.submit();
    });
  });
})();

// The composer for several accounts: each account's copy follows the common text until the
// person changes that copy. Without the script, an empty copy takes the common text.
(function () {
  var common = document.getElementById("compose-text");
  if (!common) return;
  var copies = document.querySelectorAll("textarea[id^='compose-text-']");
  copies.forEach(function (copy) {
    // A copy that differs from the common text (as sent back after an error) is the person's own.
    if (copy.value && copy.value !== common.value) copy.setAttribute("data-own", "1");
    copy.addEventListener("input", function (e) { if (e.isTrusted) copy.setAttribute("data-own", "1"); });
  });
  function follow() {
    copies.forEach(function (copy) {
      if (copy.getAttribute("data-own")) return;
      copy.value = common.value;
      copy.dispatchEvent(new Event("input"));
    });
  }
  common.addEventListener("input", follow);
})();
// The invite and member forms: a posting-hours preset fills the grid in, ticking an hour (or a
// whole day or hour with the headers' buttons) chooses the grid, the hours show only for roles
// that can schedule or publish, and the capabilities say which the chosen role includes.
// Without the script the presets are read on the server and the grid still posts.
(function () {
  document.querySelectorAll("fieldset.hours").forEach(function (set) {
    var form = set.closest("form");
    var boxes = Array.prototype.slice.call(set.querySelectorAll("input[name=w]"));
    var grid = set.querySelector("details");
    var custom = set.querySelector("input[name=hours][value=custom]");
    function cell(b) { var p = b.value.split("-"); return { day: p[0], hour: parseInt(p[1], 10) }; }
    function choose() { if (custom) custom.checked = true; }
    set.querySelectorAll("input[name=hours]").forEach(function (radio) {
      radio.addEventListener("change", function () {
        if (!radio.checked) return;
        if (radio.value === "custom") { if (grid) grid.open = true; return; }
        boxes.forEach(function (b) {
          var c = cell(b);
          var days = radio.value === "every_day" || "mon tue wed thu fri".indexOf(c.day) >= 0;
          b.checked = radio.value !== "any" && days && c.hour >= 9 && c.hour < 18;
        });
      });
    });
    boxes.forEach(function (b) { b.addEventListener("change", choose); });
    function toggle(th, label, match) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "toggle";
      button.textContent = th.textContent;
      button.setAttribute("aria-label", label);
      th.textContent = "";
      th.appendChild(button);
      button.addEventListener("click", function () {
        var these = boxes.filter(match);
        var all = these.every(function (b) { return b.checked; });
        these.forEach(function (b) { b.checked = !all; });
        choose();
      });
    }
    set.querySelectorAll("th[data-day]").forEach(function (th) {
      var day = th.getAttribute("data-day");
      toggle(th, "Tick or untick every hour on " + th.textContent, function (b) { return cell(b).day === day; });
    });
    set.querySelectorAll("th[data-hour]").forEach(function (th) {
      var hour = parseInt(th.getAttribute("data-hour"), 10);
      toggle(th, "Tick or untick " + th.textContent + ":00 on every day", function (b) { return cell(b).hour === hour; });
    });
    var role = form && form.querySelector("select[name=role]");
    if (!role) return;
    var publishing = (set.getAttribute("data-publish-roles") || "").split(" ");
    function follow() {
      var granted = form.querySelector("input[name=grant][value='posts.publish']");
      var revoked = form.querySelector("input[name=revoke][value='posts.publish']");
      var can = (publishing.indexOf(role.value) >= 0 || (granted && granted.checked)) && !(revoked && revoked.checked);
      // Hidden, not disabled: what is stored still posts unchanged (it applies again if the
      // role changes back).
      set.hidden = !can;
      form.querySelectorAll("input[data-roles]").forEach(function (b) {
        var mark = b.parentNode.querySelector(".incl");
        if (!mark) return;
        mark.hidden = b.getAttribute("data-roles").split(" ").indexOf(role.value) < 0;
        mark.querySelector(".role-name").textContent = role.value;
      });
    }
    form.addEventListener("change", follow);
    follow();
  });
})();
