// The editor's safety net (docs/blog.md, "Nothing typed is lost"). The editor works
// without it; with it:
// - every change is copied at once to this browser's localStorage, so a save that fails
//   (a network error, the blog or the proxy restarting, a session that ended) or a tab
//   that closes loses nothing: the editor offers the copy back when it differs;
// - a few seconds after a change the text is also kept on the server while the session
//   lives (POST /dashboard/autosave), and the author is told when it cannot be;
// - an image dropped or pasted into the text is uploaded, its description asked for,
//   and inserted at the cursor; an image over the limit is refused before it is sent.
// Copies are kept per user and editor, and dropped once the server shows the same text
// saved (or after 30 days, or when the author discards them).
"use strict";

(() => {
  const form = document.getElementById("editor");
  if (!form) return;
  const FIELDS = ["title", "body_md", "kind", "category", "tags", "slug", "publish_at"];
  const PREFIX = `blogkit:unsaved:${form.dataset.user}:`;
  const KEEP_DAYS = 30;
  const SERVER_DELAY_MS = 4000;
  const status = document.getElementById("keep-status");
  const field = (name) => form.elements.namedItem(name);

  const say = (text, link) => {
    if (!status) return;
    status.textContent = text;
    if (link) {
      const anchor = document.createElement("a");
      anchor.href = link.href;
      anchor.target = "_blank";
      anchor.rel = "noopener";
      anchor.textContent = link.text;
      status.append(" ", anchor);
    }
  };
  const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const editorKey = () => field("editor_key").value;
  const values = () => Object.fromEntries(FIELDS.map((name) => [name, field(name)?.value ?? ""]));
  // Whether a copy holds the text a page shows. An empty URL name or publication time in
  // the copy means "as the blog chooses", so it matches what the blog filled in.
  const FILLED_BY_BLOG = ["slug", "publish_at"];
  const same = (copy, shown) =>
    FIELDS.every((name) => {
      const a = copy[name] ?? "";
      const b = shown[name] ?? "";
      if (name === "body_md") return a.replace(/\r\n/g, "\n") === b.replace(/\r\n/g, "\n");
      return a.trim() === b.trim() || (FILLED_BY_BLOG.includes(name) && !a.trim());
    });

  // --- the browser's copy -------------------------------------------------------------
  const read = (storageKey) => {
    try {
      return JSON.parse(localStorage.getItem(storageKey));
    } catch {
      return null;
    }
  };
  const copies = () => {
    const found = [];
    for (let i = 0; i < localStorage.length; i += 1) {
      const storageKey = localStorage.key(i);
      const copy = storageKey?.startsWith(PREFIX) ? read(storageKey) : null;
      if (copy?.values) found.push({ storageKey, ...copy });
    }
    return found;
  };
  const forget = (storageKey) => {
    try {
      localStorage.removeItem(storageKey);
    } catch {
      /* storage disabled: nothing was kept */
    }
  };
  const keepCopy = () => {
    const base = field("base_revision")?.value ?? "";
    const copy = { key: editorKey(), base, values: values(), at: Date.now() };
    try {
      localStorage.setItem(PREFIX + editorKey(), JSON.stringify(copy));
    } catch {
      say("This browser cannot keep a copy of your text (its storage is full or turned off).");
    }
  };

  const putBack = (copy) => {
    for (const name of FIELDS) if (field(name)) field(name).value = copy.values[name] ?? "";
    field("editor_key").value = copy.key;
    // The revision the copy was based on: a save over a newer one shows both versions.
    if (copy.base && field("base_revision")) field("base_revision").value = copy.base;
    keepCopy();
  };

  const offer = (copy) => {
    const box = document.createElement("div");
    box.className = "notice warn";
    box.id = "browser-copy";
    box.setAttribute("role", "alert");
    const text = document.createElement("p");
    text.textContent = `This browser kept text you had not saved (${clock(copy.at)}).`;
    const restore = document.createElement("button");
    restore.type = "button";
    restore.textContent = "Put it back into the form";
    const discard = document.createElement("button");
    discard.type = "button";
    discard.className = "link-button";
    discard.textContent = "Discard it";
    restore.addEventListener("click", () => {
      putBack(copy);
      box.remove();
      say("Your unsaved text is back in the form. Save it to keep it.");
    });
    discard.addEventListener("click", () => {
      forget(copy.storageKey);
      box.remove();
    });
    box.append(text, restore, " ", discard);
    form.before(box);
  };

  const onLoad = () => {
    const shown = values();
    const old = Date.now() - KEEP_DAYS * 86400 * 1000;
    let candidate = null;
    for (const copy of copies()) {
      if (copy.at < old || (form.dataset.saved === "1" && same(copy.values, shown))) {
        forget(copy.storageKey); // saved as it is now, or too old
      } else if (copy.key === editorKey() || (editorKey().startsWith("new-") && copy.key.startsWith("new-"))) {
        if (!same(copy.values, shown) && (!candidate || copy.at > candidate.at)) candidate = copy;
      }
    }
    if (candidate) offer(candidate);
  };

  // --- the server's copy --------------------------------------------------------------
  let timer = null;
  const keepOnServer = async () => {
    const body = new FormData();
    for (const [name, value] of Object.entries(values())) body.append(name, value);
    body.append("editor_key", editorKey());
    body.append("base_revision", field("base_revision")?.value ?? "");
    const token = field("csrf_token").value;
    try {
      const answer = await fetch("/dashboard/autosave", {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-Token": token },
      });
      if (answer.ok) {
        const { saved_at: savedAt } = await answer.json();
        say(savedAt ? `Kept on the server at ${clock(savedAt * 1000)}.` : "Kept in this browser.");
      } else if (answer.status === 401 || answer.status === 403) {
        say("You are logged out, but your text is safe in this browser. Press Save or Publish: the login comes first, then your text is back in the editor. Or", {
          href: "/login",
          text: "log in in another tab.",
        });
      } else {
        const { error } = await answer.json().catch(() => ({ error: `status ${answer.status}` }));
        say(`Not kept on the server (${error}); your text is safe in this browser.`);
      }
    } catch {
      say("The blog cannot be reached right now; your text is safe in this browser.");
    }
  };
  const changed = () => {
    keepCopy();
    clearTimeout(timer);
    timer = setTimeout(keepOnServer, SERVER_DELAY_MS);
  };

  // --- images -------------------------------------------------------------------------
  const fileInput = field("image");
  const maxBytes = Number(fileInput?.dataset.maxBytes ?? 0);
  const mebibytes = (bytes) => (bytes / 1048576).toFixed(1);
  const tooLarge = (file) =>
    maxBytes && file.size > maxBytes
      ? `The image is ${mebibytes(file.size)} MiB; the largest this blog takes is ${mebibytes(maxBytes)} MiB. Make it smaller first.`
      : "";
  fileInput?.addEventListener("change", () => {
    const file = fileInput.files?.[0];
    const problem = file ? tooLarge(file) : "";
    fileInput.setCustomValidity(problem); // the browser refuses to send the form, and says why
    if (problem) {
      say(problem);
      fileInput.reportValidity();
    }
  });

  const insertAtCursor = (text) => {
    const area = field("body_md");
    const start = area.selectionStart ?? area.value.length;
    const end = area.selectionEnd ?? start;
    area.value = `${area.value.slice(0, start)}${text}${area.value.slice(end)}`;
    area.selectionStart = area.selectionEnd = start + text.length;
    changed();
  };
  const uploadImage = async (file) => {
    const problem = tooLarge(file);
    if (problem) return say(problem);
    const alt = window.prompt("Describe the image for readers who cannot see it (alt text):", "");
    if (!alt?.trim()) return say("The image was not added: it needs a description.");
    const body = new FormData();
    body.append("alt", alt);
    body.append("file", file, file.name || "pasted-image.png");
    say("Uploading the image…");
    try {
      const answer = await fetch("/dashboard/media", {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-Token": field("csrf_token").value },
      });
      const reply = await answer.json();
      if (answer.status !== 201) return say(`The image was not added: ${reply.error}`);
      insertAtCursor(reply.markdown);
      say("The image is added at the cursor.");
    } catch {
      say("The image could not be sent: the blog cannot be reached.");
    }
  };
  const imagesIn = (transfer) => [...(transfer?.files ?? [])].filter((f) => f.type.startsWith("image/"));
  const area = field("body_md");
  area.addEventListener("dragover", (event) => {
    if (imagesIn(event.dataTransfer).length || event.dataTransfer?.types.includes("Files")) event.preventDefault();
  });
  area.addEventListener("drop", (event) => {
    const images = imagesIn(event.dataTransfer);
    if (!images.length) return;
    event.preventDefault();
    images.forEach(uploadImage);
  });
  area.addEventListener("paste", (event) => {
    const images = imagesIn(event.clipboardData);
    if (!images.length) return;
    event.preventDefault();
    images.forEach(uploadImage);
  });

  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  form.addEventListener("submit", keepCopy);
  onLoad();
})();
