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

// The post editor (everything works without it): counts the text as the server does, keeps the
// platform preview in step with steward_domain::preview's rules (written the same way step by
// step; a browser test compares the two), uploads media through the API, and moves, removes and
// describes media rows in place (the rows come from the page's <template id="media-row">).
(function () {
  function $(id) { return document.getElementById(id); }
  function blank(c) { return " \n\t\r".indexOf(c) >= 0; }
  function fold(t, max, lines) {
    var a = Array.from(t), n = 0, cut = a.length, i;
    for (i = 0; i < a.length; i++) {
      if (a[i] === "\n" && ++n === lines) { cut = i; break; }
      if (i === max) { cut = i; break; }
    }
    if (a.slice(cut).every(blank)) return [t, false];
    a = a.slice(0, cut);
    while (a.length && blank(a[a.length - 1])) a.pop();
    return [a.join(""), true];
  }
  var EXT = [0x300, 0x36F, 0x483, 0x489, 0x591, 0x5BD, 0x610, 0x61A, 0x64B, 0x65F, 0xE31, 0xE31, 0xE34, 0xE3A,
    0xE47, 0xE4E, 0x1AB0, 0x1AFF, 0x1DC0, 0x1DFF, 0x200C, 0x200C, 0x20D0, 0x20FF, 0xFE00, 0xFE0F, 0xFE20, 0xFE2F,
    0x1F3FB, 0x1F3FF, 0xE0020, 0xE007F, 0xE0100, 0xE01EF];
  function starts(a) {
    var s = [], zwj = false, flag = false, i, j, cp, ext, f;
    for (i = 0; i < a.length; i++) {
      cp = a[i].codePointAt(0);
      if (cp === 0x200D) { zwj = true; continue; }
      for (ext = false, j = 0; j < EXT.length; j += 2) ext = ext || (cp >= EXT[j] && cp <= EXT[j + 1]);
      f = cp >= 0x1F1E6 && cp <= 0x1F1FF;
      if (ext || zwj || (f && flag)) { zwj = flag = false; continue; }
      flag = f;
      s.push(i);
    }
    return s;
  }
  function host(l) {
    var p = l.replace(/^https?:\/\//, "").split(/[\/?#]/)[0].split("@");
    return p[p.length - 1].toLowerCase();
  }
  function firstLink(t) {
    for (var from = 0, h, s, at, end, l, before; from < t.length; from = at + 7) {
      h = t.indexOf("http://", from);
      s = t.indexOf("https://", from);
      at = h < 0 ? s : s < 0 ? h : Math.min(h, s);
      if (at < 0) return null;
      before = Array.from(t.slice(0, at)).pop();
      for (end = at; end < t.length && " \n\t\r<>\"".indexOf(t[end]) < 0;) end++;
      for (l = t.slice(at, end); l && ".,;:!?')]}".indexOf(l[l.length - 1]) >= 0;) l = l.slice(0, -1);
      if (!(before && /[\p{Alphabetic}\p{N}]/u.test(before)) && host(l)) return l;
    }
    return null;
  }
  var field = $("edit-text"), title = $("edit-title"), pv = $("preview"), list = $("attached"), say = $("upload-status");
  var cw = $("edit-content-warning"), cwBox = $("preview-cw"), cwWas = cwBox ? !cwBox.open : false;
  function data(n) { return parseInt(pv.getAttribute("data-" + n), 10); }
  function preview() {
    if (!pv || !field) return;
    var t = field.value.replace(/\r\n/g, "\n"), tt = title ? title.value : "", shown, over = "", more = false;
    var full = tt.trim() ? tt + "\n\n" + t : t, platform = pv.getAttribute("data-platform");
    shown = full;
    if (platform === "linkedin") {
      var f = fold(full, data("fold-chars"), data("fold-lines"));
      shown = f[0];
      more = f[1];
    }
    if (platform === "bluesky") {
      var max = data("max-graphemes"), a = Array.from(full), g = starts(a), n = g.length, count = $("preview-graphemes");
      if (n > max) {
        shown = a.slice(0, g[max]).join("");
        over = a.slice(g[max]).join("");
      }
      count.textContent = n + " of " + max + " characters as Bluesky counts them" + (n > max ? ": the last " + (n - max) + " do not fit" : "");
      count.classList.toggle("over", n > max);
      var l = firstLink(full), card = $("preview-card");
      card.hidden = !l;
      if (l) {
        card.href = l;
        $("preview-card-host").textContent = host(l);
        $("preview-card-url").textContent = l;
      }
    }
    $("preview-text").textContent = shown;
    $("preview-over").textContent = over;
    $("preview-over").hidden = !over;
    $("preview-more").hidden = !more;
    if (cw && cwBox) {
      // Mastodon folds a status behind its warning: folded as the warning appears, open without one.
      var w = cw.value.trim(), s = $("preview-cw-text");
      s.textContent = w;
      s.hidden = !w;
      if (!w) cwBox.open = true;
      else if (!cwWas) cwBox.open = false;
      cwWas = !!w;
    }
  }
  document.querySelectorAll("[data-count-for]").forEach(function (out) {
    var input = $(out.getAttribute("data-count-for")), limit = parseInt(out.getAttribute("data-limit"), 10);
    if (!input) return;
    input.setAttribute("aria-describedby", ((input.getAttribute("aria-describedby") || "") + " " + out.id).trim());
    input.addEventListener("input", function () {
      var n = Array.from(input.value.replace(/\r\n/g, "\n")).length;
      out.textContent = n + " of " + limit + " characters" + (n > limit ? ": " + (n - limit) + " too many" : "");
      out.classList.toggle("over", n > limit);
    });
  });
  [field, title, cw].forEach(function (f) { if (f) f.addEventListener("input", preview); });
  preview();
  if (!list) return;
  function rows() { return Array.prototype.slice.call(list.querySelectorAll("[data-media-row]")); }
  function kind(row) { return row.querySelector("[name=media_kind]").value === "video" ? "video" : "image"; }
  function renumber() {
    var all = rows(), box = $("preview-media"), frame = $("preview-frame"), video = list.querySelector("video.thumb");
    all.forEach(function (row, i) {
      var word = kind(row), alt = row.querySelector("input[type=text]");
      row.querySelector("[data-media-name]").firstChild.textContent = (word === "video" ? "Video " : "Image ") + (i + 1);
      if (alt) { alt.id = "media-alt-" + (i + 1); row.querySelector("label").htmlFor = alt.id; }
      row.querySelectorAll("[data-media-op]").forEach(function (b) {
        var op = b.getAttribute("data-media-op");
        b.value = op + "-" + i;
        b.hidden = (op === "up" && i === 0) || (op === "down" && i === all.length - 1);
        b.lastChild.textContent = " " + word + " " + (i + 1);
      });
    });
    $("media-none").hidden = all.length > 0;
    if (frame) {
      frame.hidden = !video;
      $("preview-frame-none").hidden = !!video;
      if (video && frame.getAttribute("src") !== video.getAttribute("src")) frame.src = video.getAttribute("src");
    }
    if (!box) return;
    box.textContent = "";
    all.forEach(function (row, i) {
      var thumb = row.querySelector(".thumb"), el = thumb.cloneNode(), alt = row.querySelector("[name=media_alt]").value;
      el.removeAttribute("class");
      el.removeAttribute("aria-hidden");
      if (thumb.tagName === "IMG") el.alt = alt || "Attached image " + (i + 1);
      else if (thumb.tagName === "VIDEO") el.setAttribute("aria-label", "Attached video " + (i + 1));
      else {
        el = document.createElement("p");
        el.appendChild(document.createElement("a"));
        el.firstChild.href = row.querySelector("[name=media_url]").value;
        el.firstChild.textContent = "Attached " + kind(row) + " " + (i + 1);
      }
      box.appendChild(el);
    });
  }
  list.addEventListener("click", function (e) {
    var b = e.target.closest("[data-media-op]");
    if (!b) return;
    e.preventDefault();
    var row = b.closest("[data-media-row]"), op = b.getAttribute("data-media-op"), all = rows(), at = all.indexOf(row);
    var word = kind(row) === "video" ? "Video " : "Image ", next = row;
    if (op === "up") { list.insertBefore(row, all[at - 1]); say.textContent = word + (at + 1) + " moved up: now " + at + "."; }
    if (op === "down") { list.insertBefore(all[at + 1], row); say.textContent = word + (at + 1) + " moved down: now " + (at + 2) + "."; }
    if (op === "remove") {
      next = all[at + 1] || all[at - 1];
      list.removeChild(row);
      say.textContent = word + (at + 1) + " removed. Save to keep the change.";
    }
    renumber();
    var focus = next && (next.querySelector("[data-media-op=" + op + "]:not([hidden])") || next.querySelector("[data-media-op]:not([hidden])"));
    (focus || field).focus();
  });
  list.addEventListener("input", renumber);
  function addRow(url, k) {
    var row = $("media-row").content.firstElementChild.cloneNode(true), gone = row.querySelector(k === "video" ? "img" : "video");
    row.removeChild(gone);
    row.querySelector(".thumb").src = k === "video" ? url + "#t=0.1" : url;
    row.querySelector("[name=media_url]").value = url;
    row.querySelector("[name=media_kind]").value = k;
    if (k === "video") {
      row.querySelector("label").remove();
      row.querySelector("input[type=text]").type = "hidden";
    }
    list.appendChild(row);
    renumber();
    return row;
  }
  document.querySelectorAll("[data-upload]").forEach(function (box) {
    var input = box.querySelector("input[type=file]"), token = box.closest("form").querySelector("[name=csrf_token]");
    box.hidden = false;
    input.addEventListener("change", function () {
      var file = input.files && input.files[0], xhr = new XMLHttpRequest();
      if (!file) return;
      xhr.open("POST", box.getAttribute("data-upload"));
      xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
      xhr.setRequestHeader("X-CSRF-Token", token.value);
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) say.textContent = "Uploading " + file.name + ": " + Math.round(100 * e.loaded / e.total) + "%";
      };
      xhr.onload = function () {
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
        if (xhr.status === 201 && body.url) {
          var video = body.kind === "video", alt = addRow(body.url, video ? "video" : "image").querySelector("input[type=text]");
          say.textContent = file.name + " is uploaded and added to the media" + (video ? "" : ": describe it in its alt text") + ". Save to keep it.";
          if (alt) alt.focus();
        } else {
          say.textContent = "The upload failed: " + (body.detail || "the server refused it") + ".";
        }
        input.value = "";
      };
      xhr.onerror = function () { say.textContent = "The upload failed: the server could not be reached."; };
      say.textContent = "Uploading " + file.name + "…";
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
