// Passkeys: the only part of signing in that needs a script, because the browser's
// WebAuthn interface (navigator.credentials) has no HTML form. Everything else on
// these pages works without JavaScript; the passkey buttons stay hidden without it.
//
// An element with data-passkey-register or data-passkey-sign-in names two URLs:
// data-options (POST: the options as JSON, bytes in base64url) and data-submit
// (POST the credential as JSON; success is the 303 a form login gets, followed here).
// Registering also posts the password typed in #passkey-password: every change of
// second factors needs it (views/security.py).
"use strict";

(function () {
  function toBytes(base64url) {
    const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)).buffer;
  }

  function toBase64url(buffer) {
    const text = String.fromCharCode(...new Uint8Array(buffer));
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function csrfToken() {
    const input = document.querySelector('input[name="csrf_token"]');
    return input ? input.value : "";
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRF-Token": csrfToken(),
      },
      body: JSON.stringify(body || {}),
    });
    if (!response.ok) {
      let message = "The server refused (" + response.status + ").";
      try {
        message = (await response.json()).error || message;
      } catch (ignored) {
        // not JSON: keep the status
      }
      throw new Error(message);
    }
    return response;
  }

  function credentialJSON(credential) {
    const r = credential.response;
    const response = { clientDataJSON: toBase64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toBase64url(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toBase64url(r.authenticatorData);
      response.signature = toBase64url(r.signature);
      if (r.userHandle) response.userHandle = toBase64url(r.userHandle);
    }
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: response,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
    };
  }

  async function register(box) {
    // A change of second factors needs the password (checked with the new passkey).
    // Asked before the device makes a passkey, so a forgotten one costs nothing.
    const password = box.querySelector("#passkey-password");
    if (password && !password.value) {
      password.focus();
      throw new Error("Type your password first: adding a passkey needs it.");
    }
    const options = await (await post(box.dataset.options)).json();
    options.challenge = toBytes(options.challenge);
    options.user.id = toBytes(options.user.id);
    (options.excludeCredentials || []).forEach((c) => (c.id = toBytes(c.id)));
    const credential = await navigator.credentials.create({ publicKey: options });
    const name = box.querySelector("#passkey-name");
    return post(box.dataset.submit, {
      credential: credentialJSON(credential),
      name: name ? name.value : "",
      password: password ? password.value : "",
    });
  }

  async function signIn(box) {
    const options = await (await post(box.dataset.options)).json();
    options.challenge = toBytes(options.challenge);
    (options.allowCredentials || []).forEach((c) => (c.id = toBytes(c.id)));
    const credential = await navigator.credentials.get({ publicKey: options });
    const next = document.querySelector('input[name="next"]');
    return post(box.dataset.submit, {
      credential: credentialJSON(credential),
      next: next ? next.value : "",
    });
  }

  function wire(box, ceremony) {
    if (!window.PublicKeyCredential) return; // no passkeys here: the button stays hidden
    box.hidden = false;
    const error = box.querySelector("[data-passkey-error]");
    box.querySelector("button").addEventListener("click", async () => {
      if (error) error.textContent = "";
      try {
        const response = await ceremony(box);
        window.location.assign(response.url);
      } catch (problem) {
        if (error) error.textContent = problem.message || String(problem);
      }
    });
  }

  document.querySelectorAll("[data-passkey-register]").forEach((b) => wire(b, register));
  document.querySelectorAll("[data-passkey-sign-in]").forEach((b) => wire(b, signIn));
})();
