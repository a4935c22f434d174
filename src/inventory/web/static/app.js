// Small progressive enhancements; every page works without this file.
"use strict";

const csrfToken = () => document.querySelector('meta[name="csrf-token"]').content;

function text(tag, className, value) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.textContent = value;
  return node;
}

function resultCard(hit) {
  const item = hit.item;
  const link = document.createElement("a");
  link.href = `/items/${item.id}`;
  const photo = item.photos.find((p) => p.is_primary) || item.photos[0];
  if (photo) {
    const img = document.createElement("img");
    Object.assign(img, { className: "thumb", src: photo.thumbnail_url, alt: "", width: 64, height: 64 });
    link.append(img);
  } else {
    link.append(text("span", "thumb placeholder", item.name.slice(0, 1)));
  }
  const unit = item.unit ? ` ${item.unit}` : "";
  link.append(
    text("span", "name", item.name),
    text("span", "meta", `${item.quantity}${unit} · ${hit.location_path || "No location"}`),
    text("span", "reason", hit.reason),
  );
  const card = text("li", "card item", "");
  card.append(link);
  return card;
}

// Search as you type: debounced, the latest answer wins.
function liveSearch(form) {
  const input = form.querySelector('input[name="q"]');
  const list = document.querySelector(".live-results");
  let timer = 0;
  let latest = 0;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const query = input.value.trim();
      const ticket = ++latest;
      if (!query) { list.hidden = true; list.replaceChildren(); return; }
      const response = await fetch(`/api/v1/search?limit=10&q=${encodeURIComponent(query)}`);
      if (ticket !== latest || !response.ok) return;
      const body = await response.json();
      const cards = body.results.map(resultCard);
      if (!cards.length) cards.push(text("li", "empty", `Nothing found for “${query}”.`));
      for (const notice of body.notices || []) cards.unshift(text("li", "notice", notice));
      list.replaceChildren(...cards);
      list.hidden = false;
    }, 250);
  });
}

// Photos: pick, capture or drop several at once; uploaded straight to the API.
function photoUpload(form) {
  const input = form.querySelector('input[type="file"]');
  const error = form.querySelector(".error");
  async function send(files) {
    if (!files.length) return;
    const body = new FormData();
    for (const file of files) body.append("photos", file);
    form.classList.add("busy");
    const response = await fetch(form.dataset.uploadUrl, {
      method: "POST", body, headers: { "X-CSRFToken": csrfToken() },
    });
    form.classList.remove("busy");
    if (response.ok) { window.location.reload(); return; }
    const problem = await response.json().catch(() => ({}));
    error.textContent = problem.detail || `Upload failed (${response.status})`;
    error.hidden = false;
  }
  input.addEventListener("change", () => send(input.files));
  form.addEventListener("dragover", (event) => { event.preventDefault(); form.classList.add("over"); });
  form.addEventListener("dragleave", () => form.classList.remove("over"));
  form.addEventListener("drop", (event) => {
    event.preventDefault();
    form.classList.remove("over");
    send(event.dataTransfer.files);
  });
}

document.querySelectorAll("form[data-live-search]").forEach(liveSearch);
document.querySelectorAll("form[data-upload-url]").forEach(photoUpload);

document.querySelectorAll("[data-print]").forEach((button) =>
  button.addEventListener("click", () => window.print()));

// Live scanning where the browser can read QR codes itself; the photo form works everywhere.
async function liveScanner(section) {
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices) return;
  const formats = await window.BarcodeDetector.getSupportedFormats();
  if (!formats.includes("qr_code")) return;
  const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
  const video = section.querySelector("video");
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
  } catch { return; }
  section.hidden = false;
  await video.play();
  const look = async () => {
    const codes = await detector.detect(video).catch(() => []);
    const url = codes.length ? new URL(codes[0].rawValue, window.location.href) : null;
    if (url && url.host === window.location.host) { window.location.assign(url.href); return; }
    requestAnimationFrame(look);
  };
  look();
}
document.querySelectorAll("[data-scanner]").forEach(liveScanner);

// A background job's progress: poll its API until it ends, then show the page's outcome.
function jobProgress(section) {
  const bar = section.querySelector("progress");
  const status = section.querySelector("[data-job-status]");
  const poll = async () => {
    const response = await fetch(section.dataset.jobPoll, { headers: { Accept: "application/json" } }).catch(() => null);
    if (response && response.ok) {
      const job = await response.json();
      if (job.status === "done" || job.status === "failed") { window.location.reload(); return; }
      bar.value = job.progress;
      bar.textContent = status.textContent = `${Math.round(job.progress * 100)}% done`;
    }
    setTimeout(poll, 700);
  };
  setTimeout(poll, 300);
}
document.querySelectorAll("[data-job-poll]").forEach(jobProgress);
