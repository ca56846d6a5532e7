// The independent checker of a checked ballot copy (ballot/FORMAT.md,
// "Checking a copy"). It runs from a file or from any origin: it makes the
// copy again from the revealed text and the election (its questions and
// public key), with the same crypto as the ballot page (crypto.js), and
// shows the copy's tracking code and the candidates it encrypts. It calls
// no server, except to fetch the election from a URL the user types.
"use strict";
(function () {
  const text = {
    ko: {
      title: "투표 사본 검사기",
      about: "투표 화면에서 ‘암호화 확인하기’를 누르면 받는 텍스트(또는 QR 코드)로, 그 사본에 어떤 후보가 암호화되었는지 이 기기에서 직접 확인합니다. 이 페이지는 아무 것도 서버로 보내지 않습니다.",
      election: "선거 정보 (JSON)",
      electionHint: "선거관리위원회가 공개한 선거 정보(후보와 선거 공개키)를 붙여 넣거나, 파일을 고르거나, 주소에서 가져오세요.",
      electionFile: "선거 정보 파일",
      electionUrl: "선거 정보 주소",
      fetch: "주소에서 가져오기",
      revealed: "확인한 사본 (텍스트)",
      scan: "카메라로 QR 코드 읽기",
      check: "검사하기",
      heading: "검사 결과",
      ok: "이 사본은 올바르게 만들어졌고, 아래 선택을 암호화했습니다.",
      codeIntro: "이 사본의 확인 번호:",
      compare: "투표 화면이 ‘암호화 확인하기’를 누르기 전에 보여 준 확인 번호와 같은지 비교하세요. 다르거나 선택이 다르면 투표 화면을 믿지 말고 선거관리위원회에 알리세요.",
      none: "선택 없음",
      number: "기호 {n}번",
      needElection: "선거 정보를 넣어 주세요.",
      badElection: "선거 정보를 읽을 수 없습니다: ",
      needRevealed: "확인한 사본의 텍스트를 넣어 주세요.",
      bad: "이 사본은 검사를 통과하지 못했습니다: ",
      fetchFailed: "선거 정보를 가져오지 못했습니다.",
      other: "en", otherName: "English",
    },
    en: {
      title: "Ballot copy checker",
      about: "Check, on this device, which candidates a checked copy of a ballot encrypts: use the text (or QR code) the ballot page shows after “Check this encryption”. This page sends nothing to any server.",
      election: "Election (JSON)",
      electionHint: "Paste the election the committee published (its candidates and public key), choose its file, or fetch it from an address.",
      electionFile: "Election file",
      electionUrl: "Election address",
      fetch: "Fetch from the address",
      revealed: "Checked copy, as text",
      scan: "Read the QR code with the camera",
      check: "Check",
      heading: "Result",
      ok: "This copy is well made, and it encrypts the choices below.",
      codeIntro: "This copy's tracking code:",
      compare: "Compare it with the tracking code the ballot page showed before you chose to check. If it differs, or the choices are not yours, do not trust that page: tell the election committee.",
      none: "No choice",
      number: "No. {n}",
      needElection: "Please give the election.",
      badElection: "The election cannot be read: ",
      needRevealed: "Please give the checked copy's text.",
      bad: "This copy fails the check: ",
      fetchFailed: "The election could not be fetched.",
      other: "ko", otherName: "한국어",
    },
  };
  const $ = (id) => document.getElementById(id);
  const lang = new URLSearchParams(location.search).get("lang") === "en" ? "en" : "ko";
  const m = text[lang];
  document.documentElement.lang = lang;
  document.title = m.title;
  for (const [id, key] of [["brand", "title"], ["title", "title"], ["about", "about"], ["election-label", "election"],
    ["election-hint", "electionHint"], ["election-file-label", "electionFile"], ["election-url-label", "electionUrl"],
    ["election-fetch", "fetch"], ["revealed-label", "revealed"], ["scan", "scan"], ["check", "check"], ["result-heading", "heading"],
    ["code-intro", "codeIntro"], ["compare", "compare"]]) {
    $(id).textContent = m[key];
  }
  $("lang").textContent = m.otherName;
  $("lang").href = "?lang=" + m.other;
  $("lang").hreflang = m.other;

  // The election as the API serves it (GET /api/v1/elections/ID), or a
  // ballot response that holds it.
  function readElection() {
    const raw = $("election").value.trim();
    if (!raw) throw new Error(m.needElection);
    let e;
    try {
      e = JSON.parse(raw);
    } catch (err) {
      throw new Error(m.badElection + err.message);
    }
    if (e && e.election) e = e.election;
    if (!e || typeof e.id !== "string" || !Array.isArray(e.questions) || typeof e.public_key !== "string") {
      throw new Error(m.badElection + "id, questions, public_key");
    }
    return e;
  }

  function check() {
    const out = $("problem");
    out.textContent = "";
    $("result").hidden = true;
    let election;
    try {
      election = readElection();
    } catch (err) {
      out.textContent = err.message;
      $("election").focus();
      return;
    }
    const revealed = $("revealed").value.trim();
    if (!revealed) {
      out.textContent = m.needRevealed;
      $("revealed").focus();
      return;
    }
    let got;
    try {
      const C = window.primaryvoteCrypto;
      got = C.remakeCopy(election, C.parseRevealed(revealed));
    } catch (err) {
      out.textContent = m.bad + err.message;
      return;
    }
    $("verdict").textContent = m.ok;
    $("verdict").className = "verdict-ok";
    $("code").textContent = got.trackingCode;
    const list = $("choices");
    list.textContent = "";
    for (const q of election.questions) {
      const dt = document.createElement("dt");
      dt.textContent = q.title;
      const dd = document.createElement("dd");
      const chosen = got.selections[q.id].map((id) => q.candidates.find((c) => c.id === id));
      dd.textContent = chosen.length ? chosen.map((c) => m.number.replace("{n}", c.number) + " " + c.name).join(", ") : m.none;
      list.append(dt, dd);
    }
    $("result").hidden = false;
    $("result-heading").focus();
  }

  $("check-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    check();
  });
  $("election-file").addEventListener("change", async () => {
    const f = $("election-file").files[0];
    if (f) $("election").value = await f.text();
  });
  $("election-fetch").addEventListener("click", async () => {
    $("problem").textContent = "";
    try {
      const res = await fetch($("election-url").value.trim(), { credentials: "omit" });
      if (!res.ok) throw new Error(String(res.status));
      $("election").value = await res.text();
    } catch (err) {
      $("problem").textContent = m.fetchFailed;
    }
  });

  // The camera, where the browser can read QR codes itself.
  if ("BarcodeDetector" in window && navigator.mediaDevices) {
    $("scan").hidden = false;
    $("scan").addEventListener("click", async () => {
      const video = $("camera");
      try {
        const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
        video.srcObject = stream;
        video.hidden = false;
        await video.play();
        const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
        for (;;) {
          const codes = await detector.detect(video);
          if (codes.length > 0) {
            $("revealed").value = codes[0].rawValue;
            break;
          }
          await new Promise((r) => setTimeout(r, 250));
        }
        stream.getTracks().forEach((tr) => tr.stop());
        video.hidden = true;
        check();
      } catch (err) {
        video.hidden = true;
        $("problem").textContent = err.message;
      }
    });
  }
})();
