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
