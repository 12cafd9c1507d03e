// The drop dashboard's live part (served at /assets/dashboard.<digest>.js; the pages' policy
// allows no inline script). Follows the event stream named by #live's data-stream and swaps in
// each update's HTML, which the server rendered from escaped text. The browser's EventSource
// reconnects by itself when the server ends a stream (at its lifetime, with a retry: hint);
// a stream the server refused (its stream budget is full: 429 or 503) is retried here after
// a while, spread so that refused dashboards do not all come back at once.
(function () {
  'use strict';
  var live = document.getElementById('live');
  var state = document.getElementById('state');
  if (!live || !state || !live.dataset.stream) return;
  function follow() {
    var events = new EventSource(live.dataset.stream);
    events.addEventListener('open', function () {
      state.dataset.state = 'open';
      state.textContent = 'live';
    });
    events.addEventListener('error', function () {
      state.dataset.state = 'reconnecting';
      state.textContent = 'reconnecting…';
      if (events.readyState === EventSource.CLOSED) {
        setTimeout(follow, 20000 + Math.random() * 20000);
      }
    });
    events.addEventListener('update', function (e) {
      var update = JSON.parse(e.data);
      live.innerHTML = update.html;
      state.dataset.size = String(update.size);
    });
  }
  follow();
})();
