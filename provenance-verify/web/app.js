// The web verifier. Every rule runs in the Rust verifier compiled to WebAssembly
// (pkg/provenance_verify*, the same code as `provenance-verify --json`); this file only gets the
// input (URL fragment, camera, photo, paste), the trust list, and shows the report. Everything
// shown from a report or a scan is set with textContent, never as HTML.

const here = new URL('.', import.meta.url); // <ledger>/v/
const TRUST_URL = new URL('../v1/trust', here); // <ledger>/v1/trust
const SCOPE = new URL('../v', here).pathname; // the page itself: <ledger>/v
const PIN_KEY = 'provenance.operator'; // {key, key_id, since}: pinned on first use
const MAX_FRAME_SIDE = 2048; // the scan module's limit (src/scan.rs)

const $ = (id) => document.getElementById(id);

// ---- The wasm modules --------------------------------------------------------------------
// A trap in a module (which the library promises never happens) would leave that instance in
// an unknown state, so after any thrown error the next call gets a fresh instance: the glue is
// imported again under another URL, which gives it its own memory.

function wasmLoader(name) {
  let compiled = null;
  let current = null;
  let generation = 0;
  const compile = () => {
    const url = new URL(`pkg/${name}_bg.wasm`, here);
    return WebAssembly.compileStreaming(fetch(url)).catch(() =>
      fetch(url)
        .then((r) => r.arrayBuffer())
        .then((b) => WebAssembly.compile(b)),
    );
  };
  const instance = async () => {
    if (current) return current;
    compiled ??= compile();
    const glue = new URL(`pkg/${name}.js`, here);
    if (generation > 0) glue.search = `instance=${generation}`;
    const mod = await import(glue.href);
    await mod.default({ module_or_path: await compiled });
    current = mod;
    return mod;
  };
  return {
    instance,
    // Runs fn(module); on a thrown error, drops the instance and returns `fallback(error)`.
    async call(fn, fallback) {
      let mod;
      try {
        mod = await instance();
      } catch (error) {
        compiled = null;
        return fallback(error);
      }
      try {
        return fn(mod);
      } catch (error) {
        current = null;
        generation += 1;
        return fallback(error);
      }
    },
  };
}

const verifier = wasmLoader('provenance_verify');
const scanner = wasmLoader('provenance_scan');

// A report made by the page itself, in the same shape as the verifier's: for what never
// reached it (no QR code in the photo, no trust list, a verifier failure).
function pageReport(code, cause, message) {
  return {
    verdict: 'unreadable',
    code,
    headline: 'COULD NOT READ THIS CODE',
    advice: `${message[0].toUpperCase()}${message.slice(1)}.`,
    summary: `UNREADABLE: ${message}`,
    story: null,
    findings: [{ code, severity: 'error', cause, message }],
    exit_code: 3,
  };
}

const verifierFailed = (error) =>
  pageReport(
    'input.unreadable',
    'verifier failure',
    `the verifier stopped on this input (${error?.message ?? error}); nothing was verified`,
  );

// ---- The trust list ----------------------------------------------------------------------

const state = {
  trust: null, // Promise of {ok, bytes, info, fetchedAt, saved} or {ok: false, why}
  input: null, // the text last verified
  online: null, // {label, bytes}: the history the label's ledger answered for `input`
  report: null,
  nonce: null,
};

function readPin() {
  try {
    const pin = JSON.parse(localStorage.getItem(PIN_KEY) ?? 'null');
    return pin && typeof pin.key === 'string' ? pin : null;
  } catch {
    return null;
  }
}

function writePin(pin) {
  try {
    if (pin) localStorage.setItem(PIN_KEY, JSON.stringify(pin));
    else localStorage.removeItem(PIN_KEY);
  } catch {
    // Storage refused (private mode): the key is simply not remembered.
  }
}

async function fetchTrust() {
  let res;
  try {
    res = await fetch(TRUST_URL, { headers: { Accept: 'application/cose' }, cache: 'no-store' });
  } catch (error) {
    return {
      ok: false,
      why: `cannot reach the ledger for its trust list, and no copy is saved on this device (${error.message})`,
    };
  }
  if (!res.ok) return { ok: false, why: `the ledger answered ${res.status} for its trust list` };
  const bytes = new Uint8Array(await res.arrayBuffer());
  const savedAt = Number(res.headers.get('x-provenance-saved-at'));
  const info = await verifier.call(
    (v) => JSON.parse(v.trust_info(bytes)),
    () => null,
  );
  if (info && !readPin()) {
    writePin({ key: info.operator, key_id: info.operator_key_id, since: Date.now() });
  }
  const trust = {
    ok: true,
    bytes,
    info,
    saved: savedAt > 0,
    fetchedAt: savedAt > 0 ? savedAt : Date.now(),
  };
  showTrust(trust);
  return trust;
}

function trust() {
  state.trust ??= fetchTrust().then((t) => {
    if (!t.ok) {
      showTrust(t);
      state.trust = null; // try again next time
    }
    return t;
  });
  return state.trust;
}

const DAY = 86_400_000;
function ago(ms) {
  const age = Date.now() - ms;
  if (age < 60_000) return 'just now';
  if (age < 3_600_000) return `${Math.round(age / 60_000)} min ago`;
  if (age < DAY) return `${Math.round(age / 3_600_000)} h ago`;
  const days = Math.floor(age / DAY);
  return days === 1 ? '1 day ago' : `${days} days ago`;
}

function showTrust(t) {
  const status = $('trust-status');
  const detail = $('trust-detail');
  const pin = readPin();
  if (!t.ok) {
    status.textContent = `Trust list: not available: ${t.why}.`;
    status.dataset.state = 'missing';
  } else if (!t.info) {
    status.textContent = 'Trust list: received, but its signature does not verify.';
    status.dataset.state = 'bad';
  } else if (pin && pin.key !== t.info.operator) {
    status.textContent =
      `Trust list REFUSED: it is signed by the operator key ${t.info.operator_key_id}, not the one this device remembers (${pin.key_id ?? pin.key}).`;
    status.dataset.state = 'operator-changed';
  } else {
    const issued = Date.parse(t.info.issued_at);
    status.textContent =
      `Trust list version ${t.info.version}, issued ${t.info.issued_at.slice(0, 10)} (${ago(issued)}); ` +
      (t.saved ? `offline copy saved ${ago(t.fetchedAt)}.` : `fetched ${ago(t.fetchedAt)}.`);
    status.dataset.state = t.saved ? 'saved' : 'fresh';
    status.dataset.version = String(t.info.version);
    detail.textContent =
      `Signed by the operator key ${t.info.operator_key_id}; ${t.info.entries} makers, desks, hosts and ledger keys are listed. ` +
      'It comes from this ledger and is kept on this device so that verifying works without a network.';
  }
  $('pin-detail').textContent = pin
    ? `Operator key ${pin.key_id ?? pin.key} remembered on this device since ${new Date(pin.since || 0).toISOString().slice(0, 10)}: a trust list signed by any other key is refused.`
    : 'No operator key remembered yet: the first trust list that verifies will be remembered.';
}

// ---- Verifying -----------------------------------------------------------------------------

const nowSeconds = () => BigInt(Math.floor(Date.now() / 1000));

// Verifies `text` (a PV1: payload or a label URL; the verifier reads both), with the owner
// challenge when `challenge` is {nonce, answer}, and shows the report. A label (the mint alone)
// is then checked with its ledger when online (issue 20.3): the page asks the ledger for the
// piece's full history and verifies label and history together, here, like any payload.
async function verify(text, challenge = null) {
  $('verdict').dataset.busy = 'true';
  const t = await trust();
  let report;
  let ms = null;
  let online = null;
  if (!t.ok) {
    report = pageReport('input.unreadable', 'no trust list', t.why);
  } else {
    const pin = readPin();
    const run = (fn) =>
      verifier.call((v) => {
        const start = performance.now();
        const json = fn(v);
        ms = performance.now() - start;
        return JSON.parse(json);
      }, verifierFailed);
    const now = nowSeconds();
    const nonce = challenge?.nonce;
    const answer = challenge?.answer;
    const withHistory = (bytes) =>
      run((v) => v.verify_online_json(text, bytes, t.bytes, pin?.key, now, nonce, answer));
    if (state.online?.label === text) {
      online = { state: 'online' };
      report = await withHistory(state.online.bytes);
    } else {
      state.online = null;
      report = await run((v) =>
        challenge
          ? v.verify_with_challenge_json(text, t.bytes, pin?.key, now, nonce, answer)
          : v.verify_json(text, t.bytes, pin?.key, now),
      );
      if (report.story?.freshness?.basis === 'label') {
        online = await fetchHistory(text, report.story.item);
        if (online.bytes) {
          state.online = { label: text, bytes: online.bytes };
          report = await withHistory(online.bytes);
        }
      }
    }
  }
  state.input = text;
  state.report = report;
  render(report, ms, online);
  return report;
}

// Asks the label's ledger (this page's own origin) for the piece's full-history file:
// {state, bytes?} where state says what happened, in the words #online-status shows.
async function fetchHistory(text, item) {
  let origin = location.origin;
  try {
    if (/^https?:/i.test(text.trim())) origin = new URL(text.trim()).origin;
  } catch {
    // not a URL: a bare payload, checked with this page's ledger
  }
  if (origin !== location.origin) return { state: 'other-ledger', host: new URL(origin).host };
  if (navigator.onLine === false) return { state: 'offline' };
  try {
    const res = await fetch(new URL(`../v1/items/${encodeURIComponent(item)}/export`, here), {
      headers: { Accept: 'application/cbor' },
      cache: 'no-store',
      signal: AbortSignal.timeout(8000),
    });
    if (res.status === 404) return { state: 'unknown' };
    if (!res.ok) return { state: 'error', status: res.status };
    return { state: 'online', bytes: new Uint8Array(await res.arrayBuffer()) };
  } catch {
    return { state: 'offline' };
  }
}

const ONLINE_NOTES = {
  online: "Checked with the ledger just now: today's owner, repairs and reports are shown.",
  offline:
    "Offline: this shows where the piece comes from, not who owns it today or what happened to it since. For more, ask the seller to show the piece's current QR code, or check again when online.",
  unknown: "The ledger does not know this piece: only its origin is shown.",
  error: 'The ledger did not answer: only the origin is shown. Try again later.',
  'other-ledger': 'This label belongs to another ledger: open its link to check it online. Only the origin is shown.',
};

const HEADLINES = {
  genuine: 'GENUINE',
  genuine_with_warnings: 'GENUINE WITH WARNINGS',
  not_genuine: 'NOT GENUINE',
  unreadable: 'UNREADABLE',
};

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function row(list, term, ...values) {
  list.append(el('dt', term));
  const dd = el('dd');
  for (const value of values) {
    if (value instanceof Node) dd.append(value);
    else dd.append(el('div', value));
  }
  list.append(dd);
}

const day = (rfc3339) => (typeof rfc3339 === 'string' ? rfc3339.slice(0, 10) : '');
const party = (p) => (p?.name ? `${p.name} (key ${p.key_id})` : `key ${p?.key_id ?? '?'}`);
const count = (n, one, many) => `${n} ${n === 1 ? one : many}`;

// Whether the report is about a piece reported stolen: shown red and first.
const isStolen = (report) => Boolean(report.story?.stolen) && report.verdict !== 'not_genuine';

function render(report, ms, online = null) {
  const verdict = $('verdict');
  const kind = HEADLINES[report.verdict] ? report.verdict : 'unreadable';
  verdict.hidden = false;
  delete verdict.dataset.busy;
  verdict.dataset.verdict = kind;
  verdict.dataset.stolen = String(isStolen(report));
  verdict.dataset.codes = (report.findings ?? []).map((f) => f.code).join(' ');
  verdict.dataset.code = report.code ?? '';
  verdict.dataset.online = online?.state ?? '';
  verdict.dataset.n = String(Number(verdict.dataset.n ?? 0) + 1); // one more report shown
  verdict.className = isStolen(report) ? 'verdict-stolen' : `verdict-${kind}`;
  // A buyer's words (no codes, key ids or commands): the verifier's own headline and advice.
  $('headline').textContent = report.headline ?? HEADLINES[kind];
  $('advice').textContent = report.advice ?? '';
  $('hint').hidden = true;
  const note = $('online-status');
  note.hidden = !online;
  note.dataset.state = online?.state ?? '';
  note.textContent = online
    ? (online.state === 'error' ? `${ONLINE_NOTES.error} (HTTP ${online.status})` : ONLINE_NOTES[online.state])
    : '';
  const timing = $('timing');
  if (ms === null) {
    timing.textContent = '';
    delete verdict.dataset.ms;
  } else {
    timing.textContent = `Checked on this device in ${ms < 1 ? 'under 1' : ms.toFixed(0)} ms.`;
    verdict.dataset.ms = ms.toFixed(3);
  }

  const story = report.story;
  const list = $('story-list');
  list.replaceChildren();
  $('story').hidden = !story;
  const details = $('details-list');
  details.replaceChildren();
  if (story) {
    const basis = story.freshness?.basis;
    row(list, 'Piece', story.title);
    row(list, 'Edition', `${story.edition.number} of ${story.edition.size}`);
    row(list, 'Maker', story.maker.name);
    row(list, 'Made at', story.microfactory);
    row(list, 'Made on', day(story.minted_at));
    if (story.stolen) {
      const stolen = story.reports.filter((r) => r.status === 'stolen').map((r) => day(r.time));
      row(list, 'Stolen', stolen.length ? `Reported stolen on ${stolen[stolen.length - 1]}` : 'Reported stolen');
    }
    const owner =
      basis === 'label'
        ? "A label does not show who owns the piece today."
        : basis === 'last_record'
          ? 'Not confirmed by the ledger: this copy may stop before a later sale.'
          : 'Confirmed by the ledger.';
    row(list, 'Owners', count(story.owner_count, 'owner so far', 'owners so far'), owner);
    if (basis !== 'label') {
      const repairs = story.repairs.map((r) => {
        const parts = r.parts.length ? `; parts: ${r.parts.join(', ')}` : '';
        return `${day(r.time)}: ${r.note}${parts} (${r.desk.name || 'a repair desk'})`;
      });
      row(list, 'Repairs', story.repair_count ? count(story.repair_count, 'repair', 'repairs') : 'never repaired', ...repairs);
      const badges = story.badges.map(
        (b) => `${day(b.time)}: ${b.event}${b.place ? `, ${b.place}` : ''}`,
      );
      row(list, 'Events', story.badge_count ? count(story.badge_count, 'event', 'events') : 'none', ...badges);
    }
    row(list, 'As of', day(story.freshness.as_of));

    row(details, 'Freshness', story.freshness.note, story.freshness.in_log ? "Its last record is in the ledger's public log." : null);
    row(details, 'Maker', party(story.maker));
    row(details, 'Owner', `key ${story.current_owner.key_id}`, el('code', story.current_owner.key));
    row(details, 'Records', `${story.records_verified} carried and checked, of ${story.records}`);
    if (story.reports.length) {
      row(details, 'Reports', ...story.reports.map((r) => `${day(r.time)}: ${r.status}${r.by_recovery_key ? " (by the owner's recovery key)" : ''}`));
    }
    if (story.recoveries?.length) {
      row(details, 'Recovered', ...story.recoveries.map((r) => `owner key recovered on ${day(r.time)}: key ${r.from.key_id} replaced by key ${r.to.key_id}`));
    }
    row(details, 'Item', el('code', story.item));
  }
  $('summary').textContent = report.summary ?? '';
  $('details').hidden = false;

  const findings = report.findings ?? [];
  const ul = $('findings-list');
  ul.replaceChildren(
    ...findings.map((f) => {
      const li = el('li', null, `finding-${f.severity}`);
      li.dataset.code = f.code;
      const head = el('div');
      head.append(el('code', f.code), el('span', ` ${f.severity}: ${f.cause}`, 'cause'));
      if (typeof f.record === 'number') head.append(el('span', ` (record ${f.record})`));
      li.append(head, el('div', f.message));
      return li;
    }),
  );
  $('findings').hidden = findings.length === 0;

  if (report.trust_anchor && !report.trust_anchor.pinned) {
    $('timing').textContent += ' The trust list was not pinned to a known operator key.';
  }

  // The owner challenge needs a piece that verified and the owner key it carries.
  const canChallenge = kind === 'genuine' || kind === 'genuine_with_warnings';
  $('challenge').hidden = !canChallenge;
  if (!report.owner_challenge) {
    $('challenge-result').hidden = true;
    if (!canChallenge) resetChallenge();
  } else {
    const outcome = report.owner_challenge;
    const result = outcome.result ?? (outcome.passed ? 'passed' : 'failed');
    const box = $('challenge-result');
    box.hidden = false;
    box.dataset.passed = String(outcome.passed);
    box.dataset.result = result;
    box.dataset.code = outcome.code ?? '';
    box.className = result;
    $('challenge-headline').textContent = CHALLENGE_HEADLINES[result] ?? CHALLENGE_HEADLINES.failed;
    $('challenge-message').textContent = CHALLENGE_WORDS[result] ?? outcome.message;
  }
  (report.owner_challenge ? $('challenge-result') : verdict).scrollIntoView({ block: 'nearest' });
  if (state.report?.story) $('prove-command').textContent = proveCommand();
}

const CHALLENGE_HEADLINES = {
  passed: 'OWNER CHECK PASSED',
  failed: 'OWNER CHECK FAILED',
  not_judged: 'OWNER NOT CHECKED',
};

// The owner check's outcome for a buyer (the verifier's message, with its key ids and
// commands, stays in the details' summary).
const CHALLENGE_WORDS = {
  passed: "The seller holds the key of the piece's owner today, as the ledger confirms.",
  failed:
    'The seller did not prove they own the piece. It may be genuine, but this seller has not shown it is theirs to sell.',
  not_judged:
    'This code cannot show who owns the piece today, so no answer counts, not even a right one. Check the label while online, or ask the seller to show the piece\'s current QR code, then check again.',
};

// ---- Owner challenge ------------------------------------------------------------------------

// 12 characters of Crockford base32 (no I, L, O, U), in groups of four: 60 random bits.
function makeNonce() {
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  const chars = Array.from(bytes, (b) => alphabet[b & 31]).join('');
  return `${chars.slice(0, 4)}-${chars.slice(4, 8)}-${chars.slice(8)}`;
}

function proveCommand() {
  const item = state.report?.story?.item ?? 'ITEM';
  return `provenance prove ${item} -k owner.pem --challenge ${state.nonce ?? 'CODE'}`;
}

function resetChallenge() {
  state.nonce = null;
  $('challenge-body').hidden = true;
  $('challenge-result').hidden = true;
  $('answer').value = '';
}

const SVG = 'http://www.w3.org/2000/svg';
async function drawQr(target, text) {
  const grid = await verifier.call((v) => v.qr_modules(text), () => new Uint8Array());
  target.replaceChildren();
  if (!grid.length) return;
  const n = grid[0];
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `-4 -4 ${n + 8} ${n + 8}`);
  svg.setAttribute('shape-rendering', 'crispEdges');
  const bg = document.createElementNS(SVG, 'rect');
  for (const [k, v] of [['x', -4], ['y', -4], ['width', n + 8], ['height', n + 8], ['fill', '#fff']]) {
    bg.setAttribute(k, String(v));
  }
  let d = '';
  for (let i = 0; i < n * n; i += 1) {
    if (grid[1 + i]) d += `M${i % n} ${Math.floor(i / n)}h1v1h-1z`;
  }
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', d);
  path.setAttribute('fill', '#000');
  svg.append(bg, path);
  target.append(svg);
}

async function startChallenge() {
  state.nonce = makeNonce();
  $('nonce').textContent = state.nonce;
  $('prove-command').textContent = proveCommand();
  $('challenge-body').hidden = false;
  $('challenge-result').hidden = true;
  $('answer').value = '';
  await drawQr($('nonce-qr'), state.nonce);
}

async function checkAnswer() {
  if (!state.input || !state.nonce) return;
  const answer = $('answer').value.trim();
  await verify(state.input, { nonce: state.nonce, answer });
}

// ---- Scanning: camera and photos ---------------------------------------------------------

let detector; // BarcodeDetector, or null where the browser has none for QR codes
async function barcodeDetector() {
  if (detector !== undefined) return detector;
  detector = null;
  try {
    if ('BarcodeDetector' in self) {
      const formats = await self.BarcodeDetector.getSupportedFormats();
      if (formats.includes('qr_code')) detector = new self.BarcodeDetector({ formats: ['qr_code'] });
    }
  } catch {
    detector = null;
  }
  return detector;
}

// The QR texts in an image source (video, bitmap), read by our own decoder at most `side`
// pixels wide or high. Provenance payloads come first.
async function decodeWith(source, width, height, side) {
  const scale = Math.min(1, side / Math.max(width, height));
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(source, 0, 0, w, h);
  const rgba = ctx.getImageData(0, 0, w, h).data;
  const luma = new Uint8Array(w * h);
  for (let i = 0, j = 0; j < luma.length; i += 4, j += 1) {
    luma[j] = (rgba[i] * 77 + rgba[i + 1] * 150 + rgba[i + 2] * 29) >> 8;
  }
  return scanner.call((s) => JSON.parse(s.decode_qr(w, h, luma)), () => []);
}

async function readQr(source, width, height, sides) {
  const d = await barcodeDetector();
  if (d) {
    try {
      const found = await d.detect(source);
      if (found.length) return found.map((b) => b.rawValue);
    } catch {
      // fall through to our decoder
    }
  }
  for (const side of sides) {
    const texts = await decodeWith(source, width, height, side);
    if (texts.length) return texts;
    if (side >= Math.max(width, height)) break;
  }
  return [];
}

const camera = { stream: null, target: null, running: false };

// Browsers give the camera and offline use only to https pages (and localhost): a ledger served
// over plain http on a network address gets neither (issue 20.7).
const INSECURE =
  'This page is not on https, so the browser does not let it use the camera or work offline. ' +
  'Use "Photo or file", or paste the label link. The ledger\'s operator can fix this by serving it over https.';

async function startCamera(target) {
  stopCamera();
  camera.target = target;
  $('camera').hidden = false;
  $('video').hidden = true; // no empty black box: shown once a picture comes
  const status = $('camera-status');
  status.textContent = 'Starting the camera…';
  delete status.dataset.reason;
  if (!window.isSecureContext) {
    status.textContent = INSECURE;
    status.dataset.reason = 'insecure';
    return;
  }
  if (!navigator.mediaDevices?.getUserMedia) {
    status.textContent = 'This browser cannot use the camera here. Take a photo of the label instead.';
    status.dataset.reason = 'no-camera';
    return;
  }
  try {
    camera.stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
      audio: false,
    });
  } catch (error) {
    status.textContent = `The camera is not available (${error.name}). Take a photo of the label instead.`;
    return;
  }
  const video = $('video');
  video.hidden = false;
  video.srcObject = camera.stream;
  await video.play().catch(() => {});
  camera.running = true;
  status.textContent =
    target === 'answer' ? "Point the camera at the seller's answer." : 'Point the camera at the QR code on the label.';
  $('camera').dataset.scanning = 'true';
  while (camera.running) {
    await new Promise((resolve) => setTimeout(resolve, 150));
    if (!camera.running || video.readyState < 2 || !video.videoWidth) continue;
    const texts = await readQr(video, video.videoWidth, video.videoHeight, [960]);
    if (!camera.running || !texts.length) continue;
    const text = texts[0];
    stopCamera();
    await scanned(text, target);
  }
}

function stopCamera() {
  camera.running = false;
  camera.stream?.getTracks().forEach((track) => track.stop());
  camera.stream = null;
  $('video').srcObject = null;
  $('camera').hidden = true;
  delete $('camera').dataset.scanning;
}

async function scanned(text, target) {
  if (target === 'answer') {
    $('answer').value = text.trim();
    await checkAnswer();
  } else {
    clearFragment();
    resetChallenge();
    await verify(text);
  }
}

async function photoChosen(file) {
  if (!file) return;
  $('verdict').dataset.busy = 'true';
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    clearFragment();
    render(pageReport('input.unreadable', 'not an image', 'this file is not a photo or picture this browser can open'), null);
    return;
  }
  const texts = await readQr(bitmap, bitmap.width, bitmap.height, [1024, MAX_FRAME_SIDE]);
  bitmap.close();
  if (!texts.length) {
    clearFragment();
    render(
      pageReport(
        'input.no_qr',
        'no QR code',
        'no readable QR code was found in the photo (retake it: flat, sharp, well lit, the whole code in frame)',
      ),
      null,
    );
    return;
  }
  await scanned(texts[0], 'payload');
}

// ---- The URL fragment, wiring, offline -------------------------------------------------------

function clearFragment() {
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
}

async function fromFragment() {
  if (location.hash.length > 1) {
    resetChallenge();
    // The whole address: the verifier takes the payload from a label URL's fragment and
    // undoes its %20 / %25 escapes itself (payload_from_text).
    await verify(location.href);
  }
}

async function registerServiceWorker() {
  const status = $('offline-status');
  if (!window.isSecureContext) {
    status.textContent = 'Not on https: this page cannot work offline or use the camera.';
    status.dataset.offline = 'insecure';
    $('hint').textContent = INSECURE;
    return;
  }
  if (!('serviceWorker' in navigator)) {
    status.textContent = 'This browser cannot keep the verifier for offline use.';
    status.dataset.offline = 'unavailable';
    return;
  }
  try {
    await navigator.serviceWorker.register(new URL('sw.js', here), { scope: SCOPE });
    await navigator.serviceWorker.ready;
    status.textContent = 'Works offline on this device.';
    status.dataset.offline = 'ready';
  } catch (error) {
    status.textContent = `Offline use is not available: ${error.message}`;
    status.dataset.offline = 'unavailable';
  }
}

function wire() {
  $('scan').addEventListener('click', () => startCamera('payload'));
  $('camera-stop').addEventListener('click', stopCamera);
  $('photo').addEventListener('change', (e) => {
    const file = e.target.files?.[0];
    e.target.value = '';
    photoChosen(file);
  });
  $('paste-go').addEventListener('click', () => {
    const text = $('paste').value;
    if (!text.trim()) return;
    clearFragment();
    resetChallenge();
    verify(text);
  });
  $('challenge-start').addEventListener('click', startChallenge);
  $('answer-check').addEventListener('click', checkAnswer);
  $('answer-scan').addEventListener('click', () => startCamera('answer'));
  $('pin-forget').addEventListener('click', async () => {
    writePin(null);
    state.trust = null;
    const t = await trust();
    if (t.ok) showTrust(t);
  });
  window.addEventListener('hashchange', fromFragment);
}

wire();
registerServiceWorker();
trust();
fromFragment();
