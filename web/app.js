// 같은 출처(origin)의 API 만 부릅니다. 외부 스크립트·CDN 없이 동작합니다.
"use strict";

const $ = (id) => document.getElementById(id);
const NAMES = { digit: "손글씨 숫자", sentiment: "리뷰 감성", translate: "번역", detect: "물체 탐지", generate: "얼굴 생성" };

// 결과 칸의 내용을 글 한 줄로 바꿉니다 (className: "big" 은 답, "error" 는 오류).
function showMessage(target, text, className) {
  target.innerHTML = "";
  const p = document.createElement("p");
  p.className = className;
  p.textContent = text;
  target.appendChild(p);
}

const showError = (target, message) => showMessage(target, message, "error");

// 서버의 한국어 오류({"detail": "..."})를 그대로 보여 줍니다.
async function callApi(path, options, target) {
  target.textContent = "계산 중…";
  try {
    const response = await fetch(path, options);
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      showError(target, body.detail || `요청이 실패했습니다 (${response.status}).`);
      return null;
    }
    return body;
  } catch (err) {
    showError(target, "서버에 연결할 수 없습니다. 서버가 켜져 있는지 확인하세요.");
    return null;
  }
}

const postJson = (path, data, target) =>
  callApi(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data) }, target);

function postFile(path, blob, name, target) {
  const form = new FormData();
  form.append("file", blob, name);
  return callApi(path, { method: "POST", body: form }, target);
}

async function loadStatus() {
  const list = $("model-status");
  const body = await fetch("/health").then((r) => r.json()).catch(() => null);
  list.innerHTML = "";
  if (!body) { list.innerHTML = "<li class='missing'>서버 상태를 읽을 수 없습니다.</li>"; return; }
  for (const [name, m] of Object.entries(body.models)) {
    const li = document.createElement("li");
    li.className = m.ready ? "ready" : "missing";
    li.textContent = m.ready ? `✔ ${NAMES[name] || name}: ${m.description || ""}${m.quick ? " (--quick 모델: 짧게 학습해 정확도가 낮음)" : ""}`
                             : `✘ ${NAMES[name] || name}: ${m.note}`;
    list.appendChild(li);
    if (name === "sentiment" && m.ready && m.placeholder) { $("review-text").placeholder = m.placeholder; }
  }
}

// ---- 손글씨 숫자: 검은 바탕에 흰 선 (MNIST 와 같은 색) ----
const canvas = $("digit-canvas");
const ctx = canvas.getContext("2d");
function clearCanvas() { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, canvas.width, canvas.height); $("digit-result").textContent = ""; }
clearCanvas();
let drawing = false;
function point(e) { const r = canvas.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; }
canvas.addEventListener("pointerdown", (e) => { drawing = true; ctx.beginPath(); ctx.moveTo(...point(e)); });
canvas.addEventListener("pointermove", (e) => {
  if (!drawing) return;
  ctx.lineWidth = 18; ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.strokeStyle = "#fff";
  ctx.lineTo(...point(e)); ctx.stroke();
});
["pointerup", "pointerleave"].forEach((ev) => canvas.addEventListener(ev, () => { drawing = false; }));
$("digit-clear").addEventListener("click", clearCanvas);
$("digit-predict").addEventListener("click", () => {
  const target = $("digit-result");
  canvas.toBlob(async (blob) => {
    const body = await postFile("/api/digit", blob, "digit.png", target);
    if (!body) return;
    target.innerHTML = `<p class="big">예측: <span id="digit-label">${body.label}</span></p>`;
    body.probabilities.forEach((p, k) => {
      const row = document.createElement("div");
      row.className = "bar";
      row.innerHTML = `<b>${k}</b><span class="fill" style="width:${Math.round(p * 200)}px"></span>${(p * 100).toFixed(1)}%`;
      target.appendChild(row);
    });
  }, "image/png");
});

// ---- 리뷰 감성 ----
$("review-submit").addEventListener("click", async () => {
  const target = $("review-result");
  const body = await postJson("/api/sentiment", { text: $("review-text").value }, target);
  if (!body) return;
  showMessage(target, body.label === null ? "판단할 수 없습니다" : `${body.label} (${(body.probability * 100).toFixed(1)}%)`, "big");
  if (body.note) { const n = document.createElement("p"); n.textContent = body.note; target.appendChild(n); }
});

// ---- 번역 ----
$("translate-submit").addEventListener("click", async () => {
  const target = $("translate-result");
  const body = await postJson("/api/translate", { text: $("translate-text").value }, target);
  if (!body) return;
  showMessage(target, body.translation, "big");
});

// ---- 물체 탐지: 사진 위에 바운딩 박스 ----
$("photo-file").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  const target = $("photo-result");
  const photo = $("photo-canvas");
  photo.hidden = true;
  if (!file) return;
  const body = await postFile("/api/detect", file, file.name, target);
  if (!body) return;
  const image = await createImageBitmap(file);
  const scale = Math.min(1, 320 / Math.max(image.width, image.height));
  photo.width = image.width * scale; photo.height = image.height * scale;
  const g = photo.getContext("2d");
  g.drawImage(image, 0, 0, photo.width, photo.height);
  g.strokeStyle = "#ff3b30"; g.lineWidth = 2; g.font = "14px sans-serif"; g.fillStyle = "#ff3b30";
  for (const b of body.boxes) {
    g.strokeRect(b.x1 * scale, b.y1 * scale, (b.x2 - b.x1) * scale, (b.y2 - b.y1) * scale);
    g.fillText(`${b.label} ${(b.score * 100).toFixed(0)}%`, b.x1 * scale + 2, b.y1 * scale + 14);
  }
  photo.hidden = false;
  target.textContent = `찾은 물체 ${body.boxes.length}개`;
});

// ---- 얼굴 생성 ----
$("generate-submit").addEventListener("click", async () => {
  const target = $("generate-result");
  const seed = Number.parseInt($("seed").value, 10);
  const body = await postJson("/api/generate", { seed: Number.isNaN(seed) ? $("seed").value : seed }, target);
  if (!body) return;
  $("generate-image").src = `data:image/png;base64,${body.image_png_base64}`;
  $("generate-image").hidden = false;
  target.textContent = `시드 ${seed}`;
});

loadStatus();
