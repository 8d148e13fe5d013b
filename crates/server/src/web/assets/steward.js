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

// The post editor: the text's length against the platform's limit (Unicode characters, as the
// server counts), the platform preview as the person types, the media list (thumbnails, move,
// remove, alt text) and uploads through the API. The preview's rules are those of
// steward_domain::preview, written the same way step by step (a browser test compares the
// two). Everything works without the script: the server renders the preview from the saved
// text and the media buttons post the form.
(function () {
  function chars(s) { return Array.from(s.replace(/\r\n/g, "\n")).length; }
  function isBlank(c) { return c === " " || c === "\n" || c === "\t" || c === "\r"; }
  function publishedText(title, text) { return title.trim() ? title + "\n\n" + text : text; }
  function fold(text, maxChars, maxLines) {
    var a = Array.from(text), breaks = 0, cut = a.length, i;
    for (i = 0; i < a.length; i++) {
      if (a[i] === "\n") { breaks++; if (breaks === maxLines) { cut = i; break; } }
      if (i === maxChars) { cut = i; break; }
    }
    var folded = a.slice(cut).some(function (c) { return !isBlank(c); });
    if (!folded) return { shown: text, folded: false };
    var shown = a.slice(0, cut);
    while (shown.length && isBlank(shown[shown.length - 1])) shown.pop();
    return { shown: shown.join(""), folded: true };
  }
  function extendsGrapheme(cp) {
    var r = [[0x300, 0x36F], [0x483, 0x489], [0x591, 0x5BD], [0x610, 0x61A], [0x64B, 0x65F], [0xE31, 0xE31],
      [0xE34, 0xE3A], [0xE47, 0xE4E], [0x1AB0, 0x1AFF], [0x1DC0, 0x1DFF], [0x200C, 0x200C], [0x20D0, 0x20FF],
      [0xFE00, 0xFE0F], [0xFE20, 0xFE2F], [0x1F3FB, 0x1F3FF], [0xE0020, 0xE007F], [0xE0100, 0xE01EF]];
    return r.some(function (x) { return cp >= x[0] && cp <= x[1]; });
  }
  function graphemes(text) {
    var a = Array.from(text), starts = [], afterZwj = false, openFlag = false, i;
    for (i = 0; i < a.length; i++) {
      var cp = a[i].codePointAt(0);
      if (cp === 0x200D) { afterZwj = true; continue; }
      var flag = cp >= 0x1F1E6 && cp <= 0x1F1FF;
      if (extendsGrapheme(cp) || afterZwj || (flag && openFlag)) { afterZwj = false; openFlag = false; continue; }
      openFlag = flag;
      starts.push(i);
    }
    return { chars: a, starts: starts };
  }
  function linkHost(link) {
    var rest = link.indexOf("https://") === 0 ? link.slice(8) : link.indexOf("http://") === 0 ? link.slice(7) : "";
    var parts = rest.split(/[\/?#]/)[0].split("@");
    return parts[parts.length - 1].toLowerCase();
  }
  function firstLink(text) {
    var from = 0;
    while (from < text.length) {
      var h = text.indexOf("http://", from), s = text.indexOf("https://", from);
      var at = h < 0 ? s : (s < 0 ? h : Math.min(h, s));
      if (at < 0) return null;
      var before = Array.from(text.slice(0, at)).pop();
      var glued = before !== undefined && /[\p{Alphabetic}\p{N}]/u.test(before);
      var end = at;
      while (end < text.length && " \n\t\r<>\"".indexOf(text[end]) < 0) end++;
      var link = text.slice(at, end);
      while (link && ".,;:!?')]}".indexOf(link[link.length - 1]) >= 0) link = link.slice(0, -1);
      if (!glued && linkHost(link)) return link;
      from = at + 7;
    }
    return null;
  }

  var field = document.getElementById("edit-text");
  var title = document.getElementById("edit-title");
  var pv = document.getElementById("preview");
  function byId(id) { return document.getElementById(id); }
  function updatePreview() {
    if (!pv || !field) return;
    var platform = pv.getAttribute("data-platform");
    var full = publishedText(title ? title.value : "", field.value.replace(/\r\n/g, "\n"));
    var shown = full, over = "", more = false;
    if (platform === "linkedin") {
      var f = fold(full, parseInt(pv.getAttribute("data-fold-chars"), 10), parseInt(pv.getAttribute("data-fold-lines"), 10));
      shown = f.shown;
      more = f.folded;
    }
    if (platform === "bluesky") {
      var max = parseInt(pv.getAttribute("data-max-graphemes"), 10), g = graphemes(full), n = g.starts.length;
      if (n > max) {
        shown = g.chars.slice(0, g.starts[max]).join("");
        over = g.chars.slice(g.starts[max]).join("");
      }
      var count = byId("preview-graphemes");
      count.textContent = n + " of " + max + " characters as Bluesky counts them" + (n > max ? ": the last " + (n - max) + " do not fit" : "");
      count.classList.toggle("over", n > max);
      var link = firstLink(full), card = byId("preview-card");
      card.hidden = !link;
      if (link) {
        card.href = link;
        byId("preview-card-host").textContent = linkHost(link);
        byId("preview-card-url").textContent = link;
      }
    }
    byId("preview-text").textContent = shown;
    byId("preview-over").textContent = over;
    byId("preview-over").hidden = !over;
    byId("preview-more").hidden = !more;
  }
  document.querySelectorAll("[data-count-for]").forEach(function (out) {
    var input = document.getElementById(out.getAttribute("data-count-for"));
    var limit = parseInt(out.getAttribute("data-limit"), 10);
    if (!input) return;
    input.setAttribute("aria-describedby", ((input.getAttribute("aria-describedby") || "") + " " + out.id).trim());
    input.addEventListener("input", function () {
      var n = chars(input.value);
      out.textContent = n + " of " + limit + " characters" + (n > limit ? ": " + (n - limit) + " too many" : "");
      out.classList.toggle("over", n > limit);
    });
  });
  if (field) field.addEventListener("input", updatePreview);
  if (title) title.addEventListener("input", updatePreview);
  updatePreview();

  // The media list: rows of thumbnails with alt text and buttons, kept in step with the preview.
  var list = byId("attached");
  var status = byId("upload-status");
  function say(text) { if (status) status.textContent = text; }
  function button(op, label, what) {
    var b = document.createElement("button");
    b.type = "submit";
    b.name = "media_op";
    b.className = "secondary small";
    b.setAttribute("data-media-op", op);
    b.textContent = label;
    var sr = document.createElement("span");
    sr.className = "sr";
    sr.textContent = " " + what;
    b.appendChild(sr);
    return b;
  }
  function rowKind(row) { return row.querySelector("input[name=media_kind]").value; }
  function renumber() {
    var rows = list.querySelectorAll("[data-media-row]");
    rows.forEach(function (row, i) {
      var word = rowKind(row) === "video" ? "video" : "image";
      var name = row.querySelector("[data-media-name]");
      name.textContent = (word === "video" ? "Video " : "Image ") + (i + 1) + (row.querySelector(".placeholder") ? ", from another site" : "");
      var alt = row.querySelector("input[name=media_alt][type=text]");
      var label = row.querySelector("label");
      if (alt && label) { alt.id = "media-alt-" + (i + 1); label.htmlFor = alt.id; }
      var actions = row.querySelector(".row-actions");
      actions.textContent = "";
      var what = word + " " + (i + 1);
      if (i > 0) actions.appendChild(button("up-" + i, "Move up", what));
      if (i < rows.length - 1) actions.appendChild(button("down-" + i, "Move down", what));
      actions.appendChild(button("remove-" + i, "Remove", what));
    });
    var none = byId("media-none");
    if (none) none.hidden = rows.length > 0;
    showMedia();
  }
  function showMedia() {
    var frame = pv && pv.querySelector(".pv-frame"), box = byId("preview-media");
    if (!list) return;
    if (frame) {
      var first = list.querySelector("video.thumb");
      frame.textContent = "";
      var shown = document.createElement(first ? "video" : "p");
      if (first) {
        shown.src = first.getAttribute("src");
        shown.preload = "metadata";
        shown.muted = true;
        shown.setAttribute("aria-label", "The video's first frame");
      } else {
        shown.className = "pv-placeholder";
        shown.textContent = "The video's frame shows here once a video is attached.";
      }
      frame.appendChild(shown);
    }
    if (!box) return;
    box.textContent = "";
    list.querySelectorAll("[data-media-row]").forEach(function (row, i) {
      var thumb = row.querySelector(".thumb"), url = row.querySelector("input[name=media_url]").value;
      var alt = row.querySelector("input[name=media_alt]").value;
      var el;
      if (thumb.tagName === "IMG") {
        el = document.createElement("img");
        el.src = url;
        el.alt = alt || "Attached image " + (i + 1);
      } else if (thumb.tagName === "VIDEO") {
        el = document.createElement("video");
        el.src = url + "#t=0.1";
        el.preload = "metadata";
        el.muted = true;
        el.setAttribute("aria-label", "Attached video " + (i + 1));
      } else {
        el = document.createElement("p");
        var a = document.createElement("a");
        a.href = url;
        a.textContent = "Attached " + rowKind(row) + " " + (i + 1);
        el.appendChild(a);
      }
      box.appendChild(el);
    });
  }
  function addRow(url, kind) {
    var row = document.createElement("li");
    row.className = "attached-item";
    row.setAttribute("data-media-row", "");
    var thumb = document.createElement(kind === "video" ? "video" : "img");
    thumb.className = "thumb";
    if (kind === "video") {
      thumb.src = url + "#t=0.1";
      thumb.preload = "metadata";
      thumb.muted = true;
      thumb.setAttribute("aria-hidden", "true");
    } else {
      thumb.src = url;
      thumb.alt = "";
    }
    var body = document.createElement("div");
    body.className = "attached-body";
    var name = document.createElement("p");
    name.className = "attached-name";
    name.setAttribute("data-media-name", "");
    body.appendChild(name);
    [["media_url", url], ["media_kind", kind]].forEach(function (f) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = f[0];
      input.value = f[1];
      body.appendChild(input);
    });
    var alt = document.createElement("input");
    alt.name = "media_alt";
    if (kind === "video") {
      alt.type = "hidden";
      body.appendChild(alt);
    } else {
      var label = document.createElement("label");
      label.textContent = "Alt text: what the image shows, for people who cannot see it";
      alt.type = "text";
      alt.maxLength = 1000;
      body.appendChild(label);
      body.appendChild(alt);
    }
    var actions = document.createElement("div");
    actions.className = "row-actions";
    body.appendChild(actions);
    row.appendChild(thumb);
    row.appendChild(body);
    list.appendChild(row);
    renumber();
    return row;
  }
  if (list) {
    list.addEventListener("click", function (e) {
      var b = e.target.closest("[data-media-op]");
      if (!b) return;
      e.preventDefault();
      var row = b.closest("[data-media-row]"), op = b.getAttribute("data-media-op").split("-")[0];
      var rows = Array.prototype.slice.call(list.querySelectorAll("[data-media-row]"));
      var at = rows.indexOf(row), word = rowKind(row) === "video" ? "Video" : "Image", focus;
      if (op === "up" && at > 0) { list.insertBefore(row, rows[at - 1]); say(word + " " + (at + 1) + " moved up: now " + at + "."); }
      if (op === "down" && at < rows.length - 1) { list.insertBefore(rows[at + 1], row); say(word + " " + (at + 1) + " moved down: now " + (at + 2) + "."); }
      if (op === "remove") {
        focus = rows[at + 1] || rows[at - 1];
        list.removeChild(row);
        say(word + " " + (at + 1) + " removed. Save to keep the change.");
      }
      renumber();
      var target = op === "remove" ? focus : row;
      var next = target && (target.querySelector("[data-media-op=" + op + "]") || target.querySelector("[data-media-op]"));
      if (next) next.focus(); else if (field) field.focus();
    });
    list.addEventListener("input", showMedia);
  }
  document.querySelectorAll("[data-upload]").forEach(function (box) {
    var input = box.querySelector("input[type=file]");
    var form = box.closest("form");
    var token = form && form.querySelector("input[name=csrf_token]");
    if (!input || !list || !token || !window.XMLHttpRequest) return;
    box.hidden = false;
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (!file) return;
      var xhr = new XMLHttpRequest();
      xhr.open("POST", box.getAttribute("data-upload"));
      xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
      xhr.setRequestHeader("X-CSRF-Token", token.value);
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) say("Uploading " + file.name + ": " + Math.round(100 * e.loaded / e.total) + "%");
      };
      xhr.onload = function () {
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
        if (xhr.status === 201 && body.url) {
          var row = addRow(body.url, body.kind === "video" ? "video" : "image");
          say(file.name + " is uploaded and added to the media" + (body.kind === "video" ? "" : ": describe it in its alt text") + ". Save to keep it.");
          var alt = row.querySelector("input[type=text]");
          if (alt) alt.focus();
        } else {
          say("The upload failed: " + (body.detail || "the server refused it") + ".");
        }
        input.value = "";
      };
      xhr.onerror = function () { say("The upload failed: the server could not be reached."); };
      say("Uploading " + file.name + "…");
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

// Copy buttons (the recovery codes): shown only with a script and a clipboard; without them
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
        if (status) status.textContent = "Copying failed: select the codes and copy them.";
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
