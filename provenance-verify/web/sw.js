// The web verifier's service worker: after one visit the page, its wasm modules and the
// ledger's trust list come from this device, so verifying works with the network off.
// Served at <ledger>/v/sw.js with `Service-Worker-Allowed: /v`, registered with scope
// <ledger>/v (the page itself; label URLs are <ledger>/v#PV1:...).
//
// The page's files are kept per VERSION (a hash of every file, stamped below by
// tools/stamp.mjs, so any change to the page installs a new worker) and answered from this
// device first. The trust list is asked from the network first, so a new list is picked up as
// soon as there is a connection, and the saved copy is answered (marked with
// `x-provenance-saved-at`) when there is none.

// BEGIN stamped by tools/stamp.mjs: do not edit
const VERSION = 'bf5f5d7d83d2f46c';
const FILES = ["app.js","style.css","icon.svg","manifest.webmanifest","pkg/provenance_verify.js","pkg/provenance_verify_bg.wasm","pkg/provenance_scan.js","pkg/provenance_scan_bg.wasm"];
// END stamped

const PAGE = new URL('../v', self.location).href;
const TRUST = new URL('../v1/trust', self.location).href;
const PAGE_CACHE = `provenance-verifier-${VERSION}`;
const TRUST_CACHE = 'provenance-verifier-trust';
const TRUST_TIMEOUT_MS = 6000;
const ASSETS = new Set([PAGE, ...FILES.map((f) => new URL(f, self.location).href)]);

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(PAGE_CACHE);
      await cache.addAll([...ASSETS].map((url) => new Request(url, { cache: 'reload' })));
      // The trust list too, when the ledger has one; the page works without it until then.
      await fetchTrust().catch(() => {});
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith('provenance-verifier-') && name !== PAGE_CACHE && name !== TRUST_CACHE) {
          await caches.delete(name);
        }
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  url.hash = '';
  if (url.href === TRUST) {
    event.respondWith(trustList());
    return;
  }
  url.search = ''; // the page re-imports a wasm glue with ?instance=N after a failure
  if (ASSETS.has(url.href)) event.respondWith(asset(url.href, request));
});

async function asset(key, request) {
  const hit = await caches.match(key, { cacheName: PAGE_CACHE });
  return hit ?? fetch(request);
}

async function fetchTrust() {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TRUST_TIMEOUT_MS);
  try {
    const response = await fetch(TRUST, {
      headers: { Accept: 'application/cose' },
      cache: 'no-store',
      signal: controller.signal,
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const body = await response.arrayBuffer();
    const saved = new Response(body, {
      headers: {
        'content-type': response.headers.get('content-type') ?? 'application/cose',
        'x-provenance-saved-at': String(Date.now()),
      },
    });
    const cache = await caches.open(TRUST_CACHE);
    await cache.put(TRUST, saved);
    return new Response(body, { status: 200, headers: { 'content-type': 'application/cose' } });
  } finally {
    clearTimeout(timer);
  }
}

async function trustList() {
  try {
    return await fetchTrust();
  } catch (error) {
    const saved = await caches.match(TRUST, { cacheName: TRUST_CACHE });
    if (saved) return saved;
    return new Response(`no trust list: ${error.message}`, {
      status: 503,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
    });
  }
}
