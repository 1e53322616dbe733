import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

/**
 * The passkey pages' scripts (the security center's, hosted recovery's, the support console's): Mamori's own file and
 * @simplewebauthn/browser's UMD file from node_modules, both served from Mamori's origin under hashed names
 * (api/http.ts), never inline and never a third party's. A page loads them with script-src 'self' and
 * connect-src 'self' (render.ts).
 *
 * The script is the same on every page: a button carries where to fetch the WebAuthn options (data-options) and where
 * to post the browser's answer (data-finish), with the page's CSRF token (data-csrf). #passkey-add runs a
 * registration, #passkey-signin and #passkey-stepup (a removal's confirm page) an assertion; an answer with `url` is
 * followed, any other reloads the page. It only
 * asks the browser for the ceremony; the server checks everything. Without script the pages say passkeys need it.
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
  function say(text) {
    var s = document.getElementById("passkey-status");
    if (s) s.textContent = text;
  }
  function done(r) {
    if (r && typeof r.url === "string") location.assign(r.url);
    else location.reload();
  }
  function wire(button, ceremony) {
    if (!button || !W || !W.browserSupportsWebAuthn()) return;
    var box = document.getElementById("passkey-js");
    if (box) box.hidden = false;
    var nojs = document.getElementById("passkey-nojs");
    if (nojs) nojs.hidden = true;
    button.addEventListener("click", function () {
      var csrf = button.getAttribute("data-csrf");
      button.disabled = true;
      say(button.getAttribute("data-working"));
      post(button.getAttribute("data-options"), { csrf: csrf })
        .then(function (o) { return ceremony({ optionsJSON: o }); })
        .then(function (answer) {
          var body = { csrf: csrf, response: answer };
          var name = document.getElementById("f-passkey-name");
          if (name) body.name = name.value;
          return post(button.getAttribute("data-finish"), body);
        })
        .then(done)
        .catch(function (e) {
          button.disabled = false;
          say(button.getAttribute("data-failed") + " (" + e.message + ")");
        });
    });
  }
  wire(document.getElementById("passkey-add"), function (o) { return W.startRegistration(o); });
  wire(document.getElementById("passkey-signin"), function (o) { return W.startAuthentication(o); });
  wire(document.getElementById("passkey-stepup"), function (o) { return W.startAuthentication(o); });
})();
`;

const require = createRequire(import.meta.url);

function asset(name: string, body: Buffer | string) {
  const hash = createHash("sha256").update(body).digest("hex").slice(0, 12);
  return { path: `/assets/${name}-${hash}.js`, body, cacheControl: "public, max-age=31536000, immutable" } as const;
}

/** @simplewebauthn/browser's own UMD build (global SimpleWebAuthnBrowser), served as it is shipped. */
export const WEBAUTHN_JS = asset(
  "simplewebauthn-browser",
  // The package exports only its modules; its bundle sits beside them (package.json "unpkg").
  readFileSync(path.join(path.dirname(require.resolve("@simplewebauthn/browser")), "../dist/bundle/index.umd.min.js")),
);
export const PASSKEY_JS = asset("passkeys", PASSKEY_CLIENT_JS);

/** The two script tags of a passkey page, relative to the page's root ("../", "../../"). */
export const passkeyScriptPaths = (root: string) => [WEBAUTHN_JS, PASSKEY_JS].map((a) => `${root}${a.path.slice(1)}`);

/** Button attributes the script reads. */
export const passkeyButton = (o: {
  csrf: string;
  options: string;
  finish: string;
  working: string;
  failed: string;
}) => ({
  "data-csrf": o.csrf,
  "data-options": o.options,
  "data-finish": o.finish,
  "data-working": o.working,
  "data-failed": o.failed,
  type: "button" as const,
});
