// primaryvote's pages: sign in, choose, review, cast, receipt; and the
// public ballot check. No framework. The ballot page does its crypto on the
// phone (static/crypto.js, built from web/js): the code derives the voter's
// key, which signs the sign-in and the ballot; the ballot is encrypted and
// proved here. Neither the code nor a choice ever leaves the phone.
"use strict";
(function () {
  const messages = JSON.parse(document.getElementById("messages").textContent);
  const $ = (id) => document.getElementById(id);
  function t(key, vars) {
    let s = messages[key] || key;
    for (const k in vars || {}) s = s.split("{" + k + "}").join(String(vars[k]));
    return s;
  }
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  // A random Idempotency-Key; getRandomValues works without HTTPS too.
  function newKey() {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return hex(b);
  }

  if ($("app")) ballotPage($("app"));
  if ($("verify-form")) verifyPage($("verify-form"));
  if ($("admin")) adminPage();

  function ballotPage(app) {
    const id = app.dataset.election;
    const base = "/api/v1/elections/" + encodeURIComponent(id);
    const store = {
      get(k) { try { return JSON.parse(sessionStorage.getItem(id + ":" + k)); } catch (e) { return null; } },
      set(k, v) { sessionStorage.setItem(id + ":" + k, JSON.stringify(v)); },
      del(k) { sessionStorage.removeItem(id + ":" + k); },
    };
    const sections = ["signin", "ballot", "review", "checked", "receipt"];
    // The election as the server gave it (questions and key), and the
    // voter's credential: in memory only, for this page's life.
    let election = null;
    let credential = null;
    // The copies this page made, by tracking code, with their seeds: in
    // memory only, so that a copy can be checked (revealed) but the seed of
    // the copy that is cast never outlives the page.
    const copies = new Map();
    function show(name, focus) {
      for (const s of sections) $(s).hidden = s !== name;
      if (focus && $(focus)) $(focus).focus();
    }
    function token() {
      const s = store.get("session");
      if (!s || Date.parse(s.expires_at) < Date.now() + 10000) return null;
      return s.token;
    }
    function signInAgain(message) {
      store.del("session");
      $("signin-error").textContent = message || "";
      show("signin", "voter-id");
    }

    // A voting link carries the voter id and code in its fragment, which
    // no browser sends: fill them in, and take them out of the address bar
    // (and the history) at once.
    function fromLink() {
      if (!location.hash) return;
      const p = new URLSearchParams(location.hash.slice(1));
      history.replaceState(null, "", location.pathname + location.search);
      if (p.get("v")) $("voter-id").value = p.get("v");
      if (p.get("c")) $("code").value = p.get("c");
    }

    async function start() {
      fromLink();
      if (!token()) return show("signin", $("voter-id").value && $("code").value ? "signin-submit" : null);
      const pending = store.get("pending");
      if (pending) return cast(pending); // the page went away mid-cast: finish it, same key
      await loadBallot();
    }

    async function loadBallot() {
      let res;
      try {
        res = await fetch(base + "/ballot", { headers: { Authorization: "Bearer " + token() } });
      } catch (e) {
        return signInAgain(t("error.generic"));
      }
      if (res.status === 401) return signInAgain();
      if (!res.ok) return signInAgain(t("error.generic"));
      const b = await res.json();
      if (b.voted) return showReceipt(b.receipt, true);
      election = b.election;
      if (!credential) return signInAgain(t("error.code_again"));
      show("ballot", "ballot-heading");
      // Make the encryption's tables while the voter reads the ballot.
      setTimeout(() => { try { window.primaryvoteCrypto.prepare(election); } catch (e) { /* encrypting says so */ } }, 0);
    }

    $("signin-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const voter = $("voter-id").value.trim();
      const code = $("code").value.trim();
      const err = $("signin-error");
      err.textContent = "";
      if (!voter || !code) {
        err.textContent = t("error.required");
        (voter ? $("code") : $("voter-id")).focus();
        return;
      }
      // The device signs the sign-in with the key the code derives. A
      // phone whose clock is off signs again at the server's time.
      const signIn = (at) => {
        const req = window.primaryvoteCrypto.signInRequest(id, voter, code, at);
        if (req === null) return null;
        return fetch(base + "/sessions", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(req),
        });
      };
      let res;
      try {
        res = await signIn(Date.now());
        if (res === null) {
          err.textContent = t("error.signin");
          $("code").focus();
          return;
        }
        const serverTime = Date.parse(res.headers.get("Date") || "");
        if (res.status === 401 && Math.abs(serverTime - Date.now()) > 4 * 60 * 1000) res = await signIn(serverTime);
      } catch (e) {
        err.textContent = t("error.generic");
        return;
      }
      if (res.status === 201) {
        store.set("session", await res.json());
        credential = window.primaryvoteCrypto.deriveCredential(id, code);
        $("code").value = "";
        return loadBallot();
      }
      err.textContent = { 400: t("error.signin"), 401: t("error.signin"), 409: t("error.closed"), 429: t("error.throttled") }[res.status] || t("error.generic");
    });

    $("ballot-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const err = $("ballot-error");
      err.textContent = "";
      const selections = {};
      const list = $("review-list");
      list.textContent = "";
      for (const fs of document.querySelectorAll("fieldset.question")) {
        const title = fs.querySelector("legend").textContent;
        const chosen = Array.from(fs.querySelectorAll("input:checked"));
        if (chosen.length < +fs.dataset.min || chosen.length > +fs.dataset.max) {
          err.textContent = t("error.selection", { question: title });
          fs.querySelector("input").focus();
          return;
        }
        selections[fs.dataset.question] = chosen.map((i) => i.value);
        const dt = document.createElement("dt");
        dt.textContent = title;
        const dd = document.createElement("dd");
        dd.textContent = chosen.length
          ? chosen.map((i) => i.labels[0].textContent.replace(/\s+/g, " ").trim()).join(", ")
          : t("review.none");
        list.append(dt, dd);
      }
      // The phone encrypts, proves and signs the ballot. The same choices
      // by the same voter keep their ballot and its Idempotency-Key, so a
      // retry can never cast a second ballot.
      const choices = JSON.stringify(selections);
      const owner = credential ? hex(credential.publicKey) : null;
      const draft = store.get("draft");
      if (!draft || draft.choices !== choices || (owner && draft.owner !== owner)) {
        if (!(await newCopy(selections, $("to-review"), err))) return;
      }
      showReview();
    });

    // newCopy makes a fresh copy of the ballot (a fresh seed), keeps it as
    // the draft to cast, and reports whether it could.
    async function newCopy(selections, busy, err) {
      if (!credential || !election) {
        signInAgain(t("error.code_again"));
        return false;
      }
      busy.disabled = true;
      err.textContent = t("review.encrypting");
      await sleep(0); // let the page say so before the work starts
      let made;
      try {
        made = window.primaryvoteCrypto.makeCopy(election, credential, selections);
      } catch (e) {
        err.textContent = t("error.generic");
        return false;
      } finally {
        busy.disabled = false;
      }
      err.textContent = "";
      copies.set(made.trackingCode, made);
      store.set("draft", { key: newKey(), body: JSON.stringify(made.body), tracking: made.trackingCode,
        choices: JSON.stringify(selections), owner: hex(credential.publicKey) });
      return true;
    }

    function showReview() {
      const draft = store.get("draft");
      $("review-code").textContent = draft ? draft.tracking : "";
      // A copy can be checked only by the page that made it (and knows its seed).
      $("check").parentElement.hidden = !draft || !copies.has(draft.tracking);
      show("review", "review-heading");
    }

    // Checking a copy (Benaloh's challenge): the page reveals the copy it
    // just showed the tracking code of, never casts it, shows what it
    // encrypts (made again from the revealed text alone, as any checker
    // does) and sends it to be logged; the voter then casts a fresh copy.
    $("check").addEventListener("click", async () => {
      const draft = store.get("draft");
      const made = draft && copies.get(draft.tracking);
      if (!made) return;
      copies.delete(draft.tracking);
      store.del("draft");
      const C = window.primaryvoteCrypto;
      const text = C.revealCopy(election, made);
      let remade;
      try {
        remade = C.remakeCopy(election, C.parseRevealed(text));
      } catch (e) {
        $("cast-status").textContent = t("error.generic");
        return;
      }
      const list = $("checked-list");
      list.textContent = "";
      for (const q of election.questions) {
        const dt = document.createElement("dt");
        dt.textContent = q.title;
        const dd = document.createElement("dd");
        const chosen = remade.selections[q.id];
        dd.textContent = chosen.length
          ? chosen.map((c) => $("c-" + q.id + "-" + c).labels[0].textContent.replace(/\s+/g, " ").trim()).join(", ")
          : t("review.none");
        list.append(dt, dd);
      }
      $("checked-code").textContent = remade.trackingCode;
      $("checked-text").value = text;
      $("checked-qr").replaceChildren(window.primaryvoteQR.qrCode(text, t("checked.qr")));
      $("checked-status").textContent = t("review.checking");
      $("checked-continue").dataset.choices = JSON.stringify(made.selections);
      show("checked", "checked-heading");
      let res = null;
      try {
        res = await fetch(base + "/spoiled", {
          method: "POST",
          headers: { "Content-Type": "application/json", Authorization: "Bearer " + token() },
          body: JSON.stringify({ revealed: text }),
        });
      } catch (e) {
        res = null;
      }
      $("checked-status").textContent = res && res.status === 201 ? t("checked.logged") : t("checked.not_logged");
    });

    $("checked-copy").addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText($("checked-text").value);
        $("checked-status").textContent = t("receipt.copied");
      } catch (e) {
        $("checked-text").select();
      }
    });

    $("checked-continue").addEventListener("click", async (ev) => {
      const selections = JSON.parse(ev.currentTarget.dataset.choices || "{}");
      if (await newCopy(selections, ev.currentTarget, $("checked-status"))) showReview();
    });

    $("back").addEventListener("click", () => show("ballot", "ballot-heading"));
    $("cast").addEventListener("click", () => {
      const draft = store.get("draft");
      if (!draft) return;
      copies.clear(); // the seeds go: the cast copy can no longer be revealed
      store.set("pending", draft);
      cast(draft);
    });

    // cast sends the ballot until the server answers for it, retrying after
    // network errors, 5xx and 429 with the same key and body (honouring
    // Retry-After), so a flaky connection never loses a ballot nor casts two.
    async function cast(draft) {
      $("review-code").textContent = draft.tracking;
      $("check").parentElement.hidden = true;
      show("review");
      $("cast").disabled = $("back").disabled = true;
      const status = $("cast-status");
      status.textContent = "";
      let backoff = 1000;
      try {
        for (;;) {
          if (!token()) {
            store.del("pending");
            return signInAgain(t("error.session"));
          }
          let res = null;
          try {
            res = await fetch(base + "/ballots", {
              method: "POST",
              headers: { "Content-Type": "application/json", Authorization: "Bearer " + token(), "Idempotency-Key": draft.key },
              body: draft.body,
            });
          } catch (e) {
            res = null;
          }
          if (res && (res.status === 201 || res.status === 409)) {
            const r = await res.json();
            const receipt = res.status === 201 ? r : r.receipt;
            if (receipt) {
              store.del("pending");
              store.del("draft");
              // A receipt for this ballot names the tracking code the
              // phone computed; a 409's names the ballot cast before.
              if (res.status === 201 && receipt.tracking_code !== draft.tracking) {
                status.textContent = t("error.receipt");
                return;
              }
              return showReceipt(receipt, res.status === 409);
            }
            store.del("pending");
            status.textContent = t("error.closed");
            return;
          }
          if (res && res.status === 401) {
            store.del("pending");
            return signInAgain(t("error.session"));
          }
          if (res && res.status < 500 && res.status !== 429) {
            store.del("pending");
            status.textContent = t("error.generic");
            return;
          }
          status.textContent = t("error.network");
          let wait = backoff;
          const after = res && parseInt(res.headers.get("Retry-After"), 10);
          if (after > 0) wait = after * 1000;
          await sleep(Math.min(wait, 30000) * (0.8 + Math.random() * 0.4));
          backoff = Math.min(backoff * 2, 30000);
        }
      } finally {
        $("cast").disabled = $("back").disabled = false;
      }
    }

    let receipt = null;
    function showReceipt(r, already) {
      receipt = r;
      $("tracking-code").textContent = r.tracking_code;
      $("cast-at").dateTime = r.cast_at;
      $("cast-at").textContent = new Date(r.cast_at).toLocaleString(document.documentElement.lang);
      $("already").hidden = !already;
      $("verify-link").href = "/verify?election=" + encodeURIComponent(id) + "&code=" + encodeURIComponent(r.tracking_code);
      $("share").hidden = !navigator.share;
      show("receipt", "receipt-heading");
    }

    // receiptText is what saving or sharing the receipt gives: enough to
    // check the ballot from another device. It holds no choice.
    function receiptText() {
      return [t("receipt.file"), document.querySelector("h1").textContent, t("receipt.code") + ": " + receipt.tracking_code,
        t("receipt.cast_at") + ": " + receipt.cast_at, new URL($("verify-link").getAttribute("href"), location.href).href].join("\n") + "\n";
    }
    $("save").addEventListener("click", () => {
      const a = document.createElement("a");
      a.href = URL.createObjectURL(new Blob([receiptText()], { type: "text/plain;charset=utf-8" }));
      a.download = "receipt-" + id + "-" + receipt.tracking_code.slice(0, 9) + ".txt";
      document.body.append(a);
      a.click();
      a.remove();
    });
    $("share").addEventListener("click", () => {
      navigator.share({ title: t("receipt.file"), text: receiptText() }).catch(() => {});
    });

    $("copy").addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText($("tracking-code").textContent);
        $("copied").textContent = t("receipt.copied");
      } catch (e) {
        window.getSelection().selectAllChildren($("tracking-code"));
      }
    });

    start();
  }

  // verifyPage looks a tracking code up in the audit log and checks the
  // answer here, in the browser, rather than trusting the server's word: the
  // checkpoint's signature by the log key shown on the page, the record's
  // inclusion proof against the signed root, that the record is this
  // tracking code's cast (or checked copy), and which of the election's
  // witnesses cosigned the checkpoint.
  function verifyPage(form) {
    const params = new URLSearchParams(location.search);
    const keyInput = $("verify-key");
    if (params.get("key")) {
      keyInput.value = params.get("key");
    } else {
      fetch("/api/v1/log/key").then((r) => (r.ok ? r.text() : "")).then((k) => {
        if (!keyInput.value) keyInput.value = k.trim();
      }).catch(() => {});
    }
    const RECORD_HEADER = 4 + 8 + 32; // "PVL1" ‖ u64(index) ‖ previous chain hash
    const fromB64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

    // checkAnswer returns the lines to show for a logged answer r about
    // code, or throws saying what does not verify.
    function checkAnswer(r, code, election) {
      const C = window.primaryvoteCrypto;
      let cp;
      try {
        cp = C.openCheckpoint(r.checkpoint, keyInput.value.trim());
      } catch (e) {
        throw new Error(t("verify.bad_signature") + " (" + e.message + ")");
      }
      const record = fromB64(r.record);
      if (!C.checkInclusion(r.inclusion_proof || [], cp.size, cp.root, r.position, record)) throw new Error(t("verify.bad_inclusion"));
      let body;
      try {
        body = JSON.parse(new TextDecoder().decode(record.subarray(RECORD_HEADER)));
      } catch (e) {
        throw new Error(t("verify.bad_entry"));
      }
      const kind = { "ballot.cast": "verify.ok_cast", "ballot.spoiled": "verify.ok_spoiled" }[body.kind];
      if (!kind || body.election !== election || !body.data || body.data.tracking_code !== code) throw new Error(t("verify.bad_entry"));
      return [
        t("verify.ok_signature", { size: cp.size }),
        t("verify.ok_inclusion", { position: r.position }),
        t(kind, { election: election }),
      ];
    }

    // checkWitnesses checks the cosignatures on the answer's checkpoint
    // against the election's witness keys, and says whether they make the
    // quorum.
    async function checkWitnesses(r, election) {
      const res = await fetch("/api/v1/elections/" + encodeURIComponent(election) + "/witnesses");
      if (!res.ok) throw new Error(t("error.generic"));
      const policy = await res.json();
      let names;
      try {
        names = window.primaryvoteCrypto.checkCosignatures(r.checkpoint, policy);
      } catch (e) {
        throw new Error(t("verify.bad_cosignature") + " (" + e.message + ")");
      }
      const args = { n: names.length, total: policy.witnesses.length, quorum: policy.quorum, names: names.join(", ") };
      return names.length >= policy.quorum ? t("verify.ok_witnessed", args) : t("verify.not_witnessed", args);
    }

    async function check() {
      const out = $("verify-result");
      const list = $("verify-checks");
      const cp = $("verify-checkpoint");
      const code = $("verify-code").value.trim();
      const election = $("verify-election").value;
      cp.hidden = list.hidden = true;
      out.className = "";
      if (!code) {
        out.textContent = t("error.required");
        return;
      }
      const url = "/api/v1/elections/" + encodeURIComponent(election) + "/receipts/" + encodeURIComponent(code);
      let res;
      try {
        res = await fetch(url);
      } catch (e) {
        out.textContent = t("error.generic");
        return;
      }
      if (res.status !== 200) {
        out.textContent = res.status === 404 || res.status === 400 ? t("verify.unknown") : t("error.generic");
        return;
      }
      const r = await res.json();
      if (!r.in_log) {
        out.textContent = r.status === "spoiled" ? t("verify.spoiled_queued") : t("verify.queued");
        return;
      }
      let lines;
      try {
        lines = checkAnswer(r, r.tracking_code, election);
        if (r.witnessed) lines.push(await checkWitnesses(r, election));
      } catch (e) {
        out.className = "verdict-bad";
        out.textContent = t("verify.bad", { why: e.message });
        return;
      }
      out.className = "verdict-ok";
      out.textContent = t("verify.checked");
      list.textContent = "";
      for (const line of lines) {
        const li = document.createElement("li");
        li.textContent = line;
        list.append(li);
      }
      list.hidden = false;
      cp.textContent = r.checkpoint;
      cp.hidden = false;
    }
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      check();
    });
    // A link with a code checks at once, once the key is there.
    if ($("verify-code").value) {
      const wait = (n) => (keyInput.value || n === 0 ? check() : setTimeout(() => wait(n - 1), 100));
      wait(30);
    }
  }

  // The officials' dashboard: lifecycle, live turnout, activity, audit.
  function adminPage() {
    // ?poll=MS sets the refresh, between 1 and 60 seconds: a link cannot make
    // an official's browser flood the server.
    const poll = Math.min(60000, Math.max(1000, +new URLSearchParams(location.search).get("poll") || 5000));
    const session = {
      get() { try { return JSON.parse(sessionStorage.getItem("admin:session")); } catch (e) { return null; } },
      set(v) { sessionStorage.setItem("admin:session", JSON.stringify(v)); },
    };
    const auth = () => ({ Authorization: "Bearer " + (session.get() || {}).token });
    let election = null;
    let timer = null;

    function signedIn() {
      const s = session.get();
      return s && Date.parse(s.expires_at) > Date.now() + 10000;
    }
    async function get(path) {
      const res = await fetch(path, { headers: auth() });
      if (res.status === 401) {
        sessionStorage.removeItem("admin:session");
        location.reload();
      }
      return res;
    }
    const cell = (tr, text, header) => {
      const c = document.createElement(header ? "th" : "td");
      if (header) c.scope = "row";
      c.textContent = text;
      tr.append(c);
    };
    const pct = (voted, eligible) => (eligible ? (100 * voted / eligible).toFixed(1) : "0.0");
    function fill(tbody, rows) {
      tbody.textContent = "";
      for (const r of rows) {
        const tr = document.createElement("tr");
        cell(tr, r.name || r.region, true);
        cell(tr, r.voted);
        cell(tr, r.eligible);
        cell(tr, pct(r.voted, r.eligible) + "%");
        tbody.append(tr);
      }
    }

    async function refresh() {
      if (!election) return;
      const base = "/api/v1/elections/" + encodeURIComponent(election);
      try {
        const e = await (await fetch(base)).json();
        $("admin-status").textContent = t("admin.status", { status: t("status." + e.status) });
        $("admin-open").disabled = e.status !== "draft";
        $("admin-close").disabled = e.status !== "open";
        $("admin-results").hidden = e.status !== "published";
        $("admin-results").href = "/results/" + encodeURIComponent(election);
        const tr = await get(base + "/turnout");
        if (tr.ok) {
          const turnout = await tr.json();
          $("turnout-total").textContent = t("admin.turnout_total", { voted: turnout.voted, eligible: turnout.eligible, pct: pct(turnout.voted, turnout.eligible) });
          fill($("turnout-groups").tBodies[0], turnout.groups);
          fill($("turnout-regions").tBodies[0], turnout.regions);
          drawChart(turnout.timeline || [], turnout.eligible);
        } else if (tr.status === 403) {
          $("turnout-total").textContent = t("admin.forbidden");
        }
        const ar = await get(base + "/audit/entries");
        if (ar.ok) {
          const tbody = $("activity").tBodies[0];
          tbody.textContent = "";
          for (const a of await ar.json()) {
            const row = document.createElement("tr");
            cell(row, new Date(a.entry.at).toLocaleString(document.documentElement.lang));
            cell(row, a.kind);
            cell(row, a.entry.actor);
            tbody.append(row);
          }
        }
        const cr = await fetch(base + "/checkpoint");
        if (cr.ok) {
          const lines = (await cr.text()).split("\n");
          $("audit-checkpoint").textContent = t("admin.checkpoint", { size: lines[1], root: lines[2] });
        }
        const wr = await fetch(base + "/witnesses");
        const wbody = $("witnesses").tBodies[0];
        wbody.textContent = "";
        if (wr.ok) {
          const v = await wr.json();
          $("witnesses-summary").textContent = t("admin.witness_quorum", { quorum: v.quorum, total: v.witnesses.length, counting: v.counting_size, size: v.log_size });
          for (const w of v.witnesses) {
            const row = document.createElement("tr");
            cell(row, w.name, true);
            cell(row, w.cosigned_size);
            cell(row, w.lag);
            cell(row, w.cosigned_at ? new Date(w.cosigned_at).toLocaleTimeString(document.documentElement.lang) : t("admin.witness_never"));
            // Behind, and nothing cosigned for a minute: down or refusing.
            const stale = w.lag > 0 && (!w.cosigned_at || Date.now() - Date.parse(w.cosigned_at) > 60000);
            cell(row, t(stale ? "admin.witness_behind" : "admin.witness_ok"));
            if (stale) row.className = "behind";
            wbody.append(row);
          }
          $("witnesses").hidden = false;
        } else {
          $("witnesses-summary").textContent = t("admin.witness_none");
          $("witnesses").hidden = true;
        }
      } catch (err) {
        $("admin-action-result").textContent = t("error.generic");
      }
    }

    // drawChart draws the ballots cast so far, minute by minute, from the
    // log's record of every cast: the same after a reload, on every server.
    function drawChart(minutes, eligible) {
      if (minutes.length === 0) {
        $("turnout-line").setAttribute("points", "");
        return;
      }
      const t0 = Date.parse(minutes[0].minute);
      const span = Math.max(Date.parse(minutes[minutes.length - 1].minute) + 60000 - t0, 60000);
      const top = Math.max(eligible, 1);
      let total = 0;
      const points = ["0,118"];
      for (const m of minutes) {
        total += m.ballots;
        const x = (360 * (Date.parse(m.minute) + 60000 - t0)) / span;
        points.push(x.toFixed(1) + "," + (118 - (116 * total) / top).toFixed(1));
      }
      $("turnout-line").setAttribute("points", points.join(" "));
    }

    async function step(action, confirmKey) {
      if (!window.confirm(t(confirmKey))) return;
      const res = await fetch("/api/v1/elections/" + encodeURIComponent(election) + "/" + action, { method: "POST", headers: auth() });
      $("admin-action-result").textContent = res.ok ? "" : res.status === 403 ? t("admin.forbidden") : (await res.json()).detail || t("error.generic");
      refresh();
    }

    async function start() {
      if (!signedIn()) {
        $("admin-signin").hidden = false;
        $("admin-dash").hidden = true;
        return;
      }
      $("admin-signin").hidden = true;
      $("admin-dash").hidden = false;
      const list = await (await fetch("/api/v1/elections")).json();
      const select = $("admin-election");
      select.textContent = "";
      for (const e of list) {
        const o = document.createElement("option");
        o.value = e.id;
        o.textContent = e.title;
        select.append(o);
      }
      election = select.value || null;
      select.addEventListener("change", () => {
        election = select.value;
        refresh();
      });
      refresh();
      clearInterval(timer);
      timer = setInterval(refresh, poll);
    }

    $("admin-signin-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const res = await fetch("/api/v1/officials/sessions", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: $("admin-username").value.trim(), password: $("admin-password").value }),
      }).catch(() => null);
      if (res && res.status === 201) {
        session.set(await res.json());
        $("admin-password").value = "";
        return start();
      }
      $("admin-signin-error").textContent = res && res.status === 429 ? t("error.throttled") : t("admin.signin_failed");
    });
    $("admin-open").addEventListener("click", () => step("open", "admin.confirm_open"));
    $("admin-close").addEventListener("click", () => step("close", "admin.confirm_close"));
    $("admin-bundle").addEventListener("click", async () => {
      const res = await get("/api/v1/elections/" + encodeURIComponent(election) + "/audit/bundle");
      if (!res.ok) {
        $("admin-action-result").textContent = res.status === 403 ? t("admin.forbidden") : t("error.generic");
        return;
      }
      const a = document.createElement("a");
      a.href = URL.createObjectURL(await res.blob());
      a.download = election + ".bundle";
      a.click();
    });
    start();
  }
})();
