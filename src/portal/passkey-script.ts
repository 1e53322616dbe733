/**
 * The passkey pages' own script, served from Mamori's origin (never a third party's) beside @simplewebauthn/browser's
 * UMD file from node_modules, both under hashed names. It only asks the browser for the WebAuthn ceremony and posts
 * the answer to the page's own endpoints; the server checks everything. Without script the pages say passkeys need it.
 */
export const PASSKEY_CLIENT_JS = `(function () {
  "use strict";
  var W = window.SimpleWebAuthnBrowser;
  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(body),
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) throw new Error((j && j.error && j.error.message) || String(r.status));
        return j;
      });
    });
  }
  function say(el, text) {
    var s = document.getElementById("passkey-status");
    if (s) s.textContent = text;
  }
  function wire(button, run) {
    if (!button || !W || !W.browserSupportsWebAuthn()) return;
    var box = document.getElementById("passkey-js");
    if (box) box.hidden = false;
    var nojs = document.getElementById("passkey-nojs");
    if (nojs) nojs.hidden = true;
    button.addEventListener("click", function () {
      button.disabled = true;
      say(button, button.getAttribute("data-working"));
      run(button.getAttribute("data-csrf")).catch(function (e) {
        button.disabled = false;
        say(button, button.getAttribute("data-failed") + " (" + e.message + ")");
      });
    });
  }
  wire(document.getElementById("passkey-add"), function (csrf) {
    return post("./passkeys/options", { csrf: csrf })
      .then(function (o) { return W.startRegistration({ optionsJSON: o }); })
      .then(function (answer) {
        var name = document.getElementById("f-passkey-name");
        return post("./passkeys/add", { csrf: csrf, response: answer, name: name ? name.value : "" });
      })
      .then(function () { location.reload(); });
  });
  wire(document.getElementById("passkey-signin"), function (csrf) {
    return post("./passkey-sign-in/options", { csrf: csrf })
      .then(function (o) { return W.startAuthentication({ optionsJSON: o }); })
      .then(function (answer) { return post("./passkey-sign-in", { csrf: csrf, response: answer }); })
      .then(function (r) { location.assign(r.url); });
  });
})();
`;
